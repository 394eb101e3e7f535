"""Semantic checks of a compiled schema, after SpiceDB's ``typesystem_validation.go``.

Checked here, each with a position:

* allowed subject types name existing definitions, ``type#rel`` names an existing relation or
  permission, caveats exist, ``with expiration`` has ``use expiration``, no entry is repeated, and
  ``type#rel`` of *another* definition does not pull in a wildcard transitively (SpiceDB checks
  only those: ``relation member: user:* | group#member`` inside ``group`` is accepted);
* permission expressions name existing relations/permissions (``self`` needs ``use self``);
* an arrow's left side is a relation (not a permission) that does not allow a wildcard, directly
  or through ``type#rel``; its right side exists on at least one type the left side allows
  (subject relations on the left are fine, as in SpiceDB);
* permission type annotations name existing definitions;
* ``acts_for`` names a relation that allows only plain object types, without caveats
  (expiration is allowed).

SpiceDB accepts permissions defined only in terms of themselves (``permission p = p``,
``a = b; b = a`` ...), so they are not refused: :func:`lint` reports them as warnings, for
``rebac schema check --strict``.
"""

from __future__ import annotations

from rebac.errors import Diagnostic
from rebac.schema import ast, ir
from rebac.schema.compiler import Compiled, DefinitionSyntax
from rebac.schema.source import Source, Span

__all__ = ["lint", "validate"]


class _Validator:
    def __init__(self, compiled: Compiled, source: Source) -> None:
        self.schema = compiled.schema
        self.syntax = compiled.syntax
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.wildcard_cache: dict[tuple[str, str], str | None] = {}

    def error(self, span: Span | None, message: str) -> None:
        self.diagnostics.append(self.source.diagnostic(span.start if span else 0, message))

    # --- helpers -------------------------------------------------------------------------------

    def wildcard_via(self, type_name: str, relation: str) -> str | None:
        """Describe the wildcard ``type:*`` a relation allows, directly or through ``t#rel``."""
        pending = [(type_name, relation, f"{type_name}#{relation}")]
        seen: set[tuple[str, str]] = set()
        while pending:
            current_type, current_rel, path = pending.pop()
            if (current_type, current_rel) in seen:
                continue
            seen.add((current_type, current_rel))
            definition = self.schema.definitions.get(current_type)
            found = definition.relations.get(current_rel) if definition else None
            if found is None:
                continue
            for allowed in found.allowed:
                if allowed.wildcard:
                    return (
                        f"`{allowed.type}:*` (via {path})" if path.count("#") > 1 else f"`{allowed.type}:*`"
                    )
                if allowed.relation is not None:
                    pending.append(
                        (allowed.type, allowed.relation, f"{path} → {allowed.type}#{allowed.relation}")
                    )
        return None

    # --- relations -----------------------------------------------------------------------------

    def relation(self, definition: ir.Definition, decl: ast.RelationDecl) -> None:
        seen: set[str] = set()
        for ref in decl.types:
            allowed = ir.AllowedSubject(ref.type, ref.relation, ref.wildcard, ref.caveat, ref.expiration)
            text = str(allowed)
            if text in seen:
                self.error(ref.span, f"`{text}` is listed twice in relation `{decl.name}`")
            seen.add(text)
            target = self.schema.definitions.get(ref.type)
            if target is None:
                self.error(ref.span, f"relation `{decl.name}` allows unknown type `{ref.type}`")
            elif ref.relation is not None:
                if target.member(ref.relation) is None:
                    self.error(
                        ref.relation_span,
                        f"relation `{decl.name}` allows `{ref.type}#{ref.relation}`, "
                        f"but `{ref.type}` has no relation or permission `{ref.relation}`",
                    )
                elif ref.type != definition.name and (
                    (wildcard := self.wildcard_via(ref.type, ref.relation)) is not None
                ):
                    self.error(
                        ref.relation_span,
                        f"relation `{decl.name}` allows `{ref.type}#{ref.relation}`, which includes the "
                        f"wildcard {wildcard}; wildcards cannot be included transitively",
                    )
            if ref.caveat is not None and ref.caveat not in self.schema.caveats:
                if ref.caveat == "expiration" and "expiration" not in self.schema.use_flags:
                    self.error(
                        ref.caveat_span,
                        "`with expiration` needs `use expiration` at the top of the schema",
                    )
                else:
                    self.error(ref.caveat_span, f"relation `{decl.name}` uses unknown caveat `{ref.caveat}`")

    # --- permissions ---------------------------------------------------------------------------

    def permission(self, definition: ir.Definition, decl: ast.PermissionDecl) -> None:
        for name, span in decl.annotations:
            if name not in self.schema.definitions:
                self.error(span, f"permission `{decl.name}` is annotated with unknown type `{name}`")
        pending: list[ast.Expr] = [decl.expr]
        while pending:
            expr = pending.pop()
            if isinstance(expr, ast.Ident):
                self.reference(definition, decl, expr)
            elif isinstance(expr, ast.Arrow):
                if isinstance(expr.left, ast.Ident):
                    self.arrow(definition, decl, expr.left, expr.right)
            elif isinstance(expr, ast.Exclusion):
                pending.extend((expr.right, expr.left))
            elif isinstance(expr, ast.Union | ast.Intersection):
                pending.extend(reversed(expr.children))

    def reference(self, definition: ir.Definition, decl: ast.PermissionDecl, ident: ast.Ident) -> None:
        if definition.member(ident.name) is not None:
            return
        if ident.name == "self" and "self" not in self.schema.use_flags:
            self.error(ident.span, "`self` needs `use self` at the top of the schema")
            return
        self.error(
            ident.span,
            f"permission `{decl.name}` refers to `{ident.name}`, which is not a relation or permission "
            f"of `{definition.name}`",
        )

    def arrow(
        self, definition: ir.Definition, decl: ast.PermissionDecl, left: ast.Ident, right: ast.Ident
    ) -> None:
        shown = f"{left.name}->{right.name}"
        if left.name in definition.permissions:
            self.error(
                left.span,
                f"arrow `{shown}` in permission `{decl.name}` starts from permission `{left.name}`; "
                "the left side of an arrow must be a relation",
            )
            return
        relation = definition.relations.get(left.name)
        if relation is None:
            self.error(
                left.span,
                f"arrow `{shown}` in permission `{decl.name}`: "
                f"`{definition.name}` has no relation `{left.name}`",
            )
            return
        wildcard = self.wildcard_via(definition.name, left.name)
        if wildcard is not None:
            self.error(
                left.span,
                f"arrow `{shown}` in permission `{decl.name}`: relation `{left.name}` allows the wildcard "
                f"{wildcard}, and wildcards cannot be used on the left side of an arrow",
            )
            return
        targets = {a.type for a in relation.allowed if a.type in self.schema.definitions}
        if not targets:
            return  # the unknown types are reported on the relation
        if not any(self.schema.definitions[t].member(right.name) is not None for t in targets):
            names = ", ".join(f"`{t}`" for t in sorted(targets))
            self.error(
                right.span,
                f"arrow `{shown}` in permission `{decl.name}`: none of the types `{left.name}` allows "
                f"({names}) has a relation or permission `{right.name}`",
            )

    # --- acts_for ------------------------------------------------------------------------------

    def acts_for(self, definition: ir.Definition, decl: ast.ActsForDecl) -> None:
        name = decl.relation
        if name in definition.permissions:
            self.error(
                decl.relation_span,
                f"`acts_for {name}`: `{name}` is a permission; `acts_for` must name a relation",
            )
            return
        relation = definition.relations.get(name)
        if relation is None:
            self.error(decl.relation_span, f"`acts_for {name}`: `{definition.name}` has no relation `{name}`")
            return
        for allowed in relation.allowed:
            if allowed.wildcard or allowed.relation is not None:
                self.error(
                    decl.relation_span,
                    f"`acts_for {name}`: relation `{name}` allows `{allowed}`; a principal relation may "
                    "allow only plain object types (no `#relation`, no `:*`)",
                )
                return
            if allowed.caveat is not None:
                self.error(
                    decl.relation_span,
                    f"`acts_for {name}`: relation `{name}` allows `{allowed}`; a principal relation may "
                    "not carry a caveat (the caller's context could switch a principal, and its cap, "
                    "off); `with expiration` is allowed",
                )
                return

    # --- cycles --------------------------------------------------------------------------------

    def productive(self, rewrite: ir.Rewrite, type_name: str, done: set[tuple[str, str]]) -> bool:
        """Whether a rewrite can produce a subject without going through an unproductive member."""
        if isinstance(rewrite, ir.Nil | ir.SelfRef):
            return True
        definition = self.schema.definitions[type_name]
        if isinstance(rewrite, ir.ComputedUserset):
            return definition.member(rewrite.relation) is None or (type_name, rewrite.relation) in done
        if isinstance(rewrite, ir.TupleToUserset):
            relation = definition.relations.get(rewrite.tupleset)
            if relation is None:
                return True
            targets = [
                t.type
                for t in relation.allowed
                if (d := self.schema.definitions.get(t.type)) is not None
                and d.member(rewrite.computed) is not None
            ]
            return not targets or any((t, rewrite.computed) in done for t in targets)
        if isinstance(rewrite, ir.Union):
            return any(self.productive(c, type_name, done) for c in rewrite.children)
        if isinstance(rewrite, ir.Intersection):
            return all(self.productive(c, type_name, done) for c in rewrite.children)
        return self.productive(rewrite.base, type_name, done)

    def cycles(self) -> None:
        done: set[tuple[str, str]] = set()
        waiting: list[tuple[str, ir.Permission]] = []
        for definition in self.schema.definitions.values():
            done.update((definition.name, r) for r in definition.relations)
            waiting.extend((definition.name, p) for p in definition.permissions.values())
        changed = True
        while changed and waiting:
            changed = False
            still: list[tuple[str, ir.Permission]] = []
            for type_name, permission in waiting:
                if self.productive(permission.rewrite, type_name, done):
                    done.add((type_name, permission.name))
                    changed = True
                else:
                    still.append((type_name, permission))
            waiting = still
        stuck = {(t, p.name) for t, p in waiting}
        for type_name, permission in waiting:
            decl = self.syntax[type_name].members.get(permission.name)
            others = sorted(
                f"{t}#{n}" if t != type_name else n
                for t, n in self.references(type_name, permission.rewrite)
                if (t, n) in stuck and (t, n) != (type_name, permission.name)
            )
            through = f" (through {', '.join(f'`{o}`' for o in others[:4])})" if others else ""
            self.error(
                decl.name_span if decl else None,
                f"warning: permission `{permission.name}` on `{type_name}` can never be granted: every "
                f"way to it leads back to itself{through}",
            )

    def references(self, type_name: str, rewrite: ir.Rewrite) -> set[tuple[str, str]]:
        """The members a rewrite refers to directly (arrows: on every type the tupleset allows)."""
        found: set[tuple[str, str]] = set()
        definition = self.schema.definitions[type_name]
        pending = [rewrite]
        while pending:
            current = pending.pop()
            if isinstance(current, ir.ComputedUserset):
                found.add((type_name, current.relation))
            elif isinstance(current, ir.TupleToUserset):
                tupleset = definition.relations.get(current.tupleset)
                found.update((a.type, current.computed) for a in (tupleset.allowed if tupleset else ()))
            elif isinstance(current, ir.Union | ir.Intersection):
                pending.extend(current.children)
            elif isinstance(current, ir.Exclusion):
                pending.extend((current.base, current.subtract))
        return found

    def run(self) -> list[Diagnostic]:
        for name, definition in self.schema.definitions.items():
            index: DefinitionSyntax = self.syntax[name]
            for member in index.members.values():
                if isinstance(member, ast.RelationDecl):
                    self.relation(definition, member)
                else:
                    self.permission(definition, member)
            if index.acts_for is not None:
                self.acts_for(definition, index.acts_for)
        return self.diagnostics


def lint(compiled: Compiled, source: Source) -> list[Diagnostic]:
    """Warnings about a valid schema that SpiceDB accepts but is likely a mistake.

    Today: permissions that can never be granted because every way to them leads back to
    themselves.
    """
    validator = _Validator(compiled, source)
    validator.cycles()
    return validator.diagnostics


def validate(compiled: Compiled, source: Source) -> list[Diagnostic]:
    """Run every semantic check on a compiled schema.

    Args:
        compiled: The compiler's result (IR plus the syntax index).
        source: The schema source, for positions.

    Returns:
        The diagnostics found (empty when the schema is valid).
    """
    return _Validator(compiled, source).run()
