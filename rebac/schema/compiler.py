"""Syntax tree → IR: declarations, names, partials, caveat parameters.

The compiler builds :mod:`rebac.schema.ir` values and reports problems local to declarations
(duplicates, invalid names, caveat parameter types, ``acts_for`` given twice, unsupported
``import``). Cross-references (unknown types, relations, caveats; arrows; cycles) are checked
afterwards by :mod:`rebac.schema.validate`, which gets the :class:`DefinitionSyntax` index built here
so it can point at the offending text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Final

from rebac.errors import Diagnostic
from rebac.refs import CAVEAT_NAME_RE, RELATION_RE, TYPE_RE
from rebac.schema import ast, ir
from rebac.schema.cel import check_expression
from rebac.schema.cel_env import type_check
from rebac.schema.source import Source, Span

__all__ = ["CAVEAT_TYPES", "Compiled", "DefinitionSyntax", "compile_tree"]

CAVEAT_TYPES: Final = {
    "any": 0,
    "bool": 0,
    "bytes": 0,
    "double": 0,
    "duration": 0,
    "int": 0,
    "ipaddress": 0,
    "string": 0,
    "timestamp": 0,
    "uint": 0,
    "list": 1,
    "map": 1,
}
"""SpiceDB's caveat parameter types and how many type arguments each takes."""

_PARAM_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_RULE: Final = (
    "3 to 64 characters: lowercase letters, digits and '_', starting with a letter, not ending with '_'"
)


@dataclass(slots=True)
class DefinitionSyntax:
    """Where each member of one compiled definition was written."""

    decl: ast.DefinitionDecl
    members: dict[str, ast.RelationDecl | ast.PermissionDecl] = field(default_factory=dict)
    acts_for: ast.ActsForDecl | None = None


@dataclass(slots=True)
class Compiled:
    """The compiler's result: the IR, the syntax index for validation, and diagnostics."""

    schema: ir.Schema
    syntax: dict[str, DefinitionSyntax]
    caveats: dict[str, ast.CaveatDecl]
    diagnostics: list[Diagnostic]


def normalize_expression(text: str) -> str:
    """Canonical caveat body text: stripped, continuation lines dedented as a block."""
    lines = text.strip().splitlines()
    if len(lines) <= 1:
        return text.strip()
    rest = textwrap.dedent("\n".join(lines[1:]))
    return lines[0] + "\n" + rest.rstrip()


class _Compiler:
    def __init__(self, tree: ast.SchemaFile, source: Source) -> None:
        self.tree = tree
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.partials: dict[str, ast.DefinitionDecl] = {}

    def error(self, span: Span, message: str) -> None:
        self.diagnostics.append(self.source.diagnostic(span.start, message))

    def position(self, span: Span) -> ir.SourcePosition:
        line, column = self.source.position(span.start)
        return ir.SourcePosition(self.source.name, line, column)

    def run(self) -> Compiled:
        flags = frozenset(item.flag for item in self.tree.items if isinstance(item, ast.UseDecl))
        seen: dict[str, Span] = {}
        definitions: dict[str, ir.Definition] = {}
        caveats: dict[str, ir.CaveatDefinition] = {}
        syntax: dict[str, DefinitionSyntax] = {}
        caveat_syntax: dict[str, ast.CaveatDecl] = {}
        order: list[str] = []
        for item in self.tree.items:
            if isinstance(item, ast.ImportDecl):
                self.error(
                    item.span,
                    f'`import "{item.path}"` is not supported: rebac compiles one self-contained schema, '
                    "so paste the imported definitions in instead",
                )
            elif (
                isinstance(item, ast.DefinitionDecl | ast.CaveatDecl)
                and self.claim(item, seen)
                and isinstance(item, ast.DefinitionDecl)
                and item.kind == "partial"
            ):
                self.partials[item.name] = item
        for item in self.tree.items:
            if isinstance(item, ast.DefinitionDecl) and item.kind == "definition":
                if item.name in definitions or seen.get(item.name) != item.name_span:
                    continue
                definition, index = self.definition(item)
                definitions[item.name] = definition
                syntax[item.name] = index
                order.append(item.name)
            elif isinstance(item, ast.CaveatDecl):
                if item.name in caveats or seen.get(item.name) != item.name_span:
                    continue
                caveats[item.name] = self.caveat(item)
                caveat_syntax[item.name] = item
                order.append(item.name)
        schema = ir.Schema(definitions, caveats, flags, tuple(order))
        return Compiled(schema, syntax, caveat_syntax, self.diagnostics)

    def claim(self, item: ast.DefinitionDecl | ast.CaveatDecl, seen: dict[str, Span]) -> bool:
        kind = "caveat" if isinstance(item, ast.CaveatDecl) else item.kind
        if item.name in seen:
            line, column = self.source.position(seen[item.name].start)
            self.error(item.name_span, f"`{item.name}` is already defined at {line}:{column}")
            return False
        seen[item.name] = item.name_span
        if kind == "caveat":
            if CAVEAT_NAME_RE.fullmatch(item.name) is None:
                self.error(
                    item.name_span,
                    f"invalid caveat name `{item.name}`: use lowercase letters, digits and '_'",
                )
        elif TYPE_RE.fullmatch(item.name) is None:
            self.error(
                item.name_span,
                f"invalid {kind} name `{item.name}`: each '/'-separated part must be {_NAME_RULE}",
            )
        return True

    # --- definitions ---------------------------------------------------------------------------

    def expand(self, decl: ast.DefinitionDecl, trail: tuple[str, ...]) -> list[ast.Member]:
        members: list[ast.Member] = []
        for member in decl.members:
            if not isinstance(member, ast.PartialRef):
                members.append(member)
                continue
            partial = self.partials.get(member.name)
            if partial is None:
                self.error(member.span, f"unknown partial `{member.name}`")
            elif member.name in trail:
                cycle = " → ".join((*trail, member.name))
                self.error(member.span, f"partial `{member.name}` includes itself ({cycle})")
            else:
                members.extend(self.expand(partial, (*trail, member.name)))
        return members

    def definition(self, decl: ast.DefinitionDecl) -> tuple[ir.Definition, DefinitionSyntax]:
        index = DefinitionSyntax(decl)
        relations: dict[str, ir.Relation] = {}
        permissions: dict[str, ir.Permission] = {}
        order: list[str] = []
        for member in self.expand(decl, ()):
            if isinstance(member, ast.ActsForDecl):
                if index.acts_for is not None:
                    line, column = self.source.position(index.acts_for.span.start)
                    self.error(
                        member.span,
                        f"definition `{decl.name}` already has `acts_for` (at {line}:{column}); "
                        "only one is allowed",
                    )
                else:
                    index.acts_for = member
                continue
            if isinstance(member, ast.PartialRef):
                continue
            if member.name in index.members:
                line, column = self.source.position(index.members[member.name].name_span.start)
                self.error(
                    member.name_span,
                    f"`{member.name}` is already defined in `{decl.name}` at {line}:{column}",
                )
                continue
            kind = "relation" if isinstance(member, ast.RelationDecl) else "permission"
            if RELATION_RE.fullmatch(member.name) is None:
                self.error(member.name_span, f"invalid {kind} name `{member.name}`: it must be {_NAME_RULE}")
            index.members[member.name] = member
            order.append(member.name)
            position = self.position(member.name_span)
            if isinstance(member, ast.RelationDecl):
                allowed = tuple(
                    ir.AllowedSubject(t.type, t.relation, t.wildcard, t.caveat, t.expiration)
                    for t in member.types
                )
                relations[member.name] = ir.Relation(member.name, allowed, member.doc, position)
            else:
                rewrite = self.rewrite(member.expr)
                annotations = tuple(name for name, _ in member.annotations)
                permissions[member.name] = ir.Permission(
                    member.name, rewrite, member.doc, position, annotations
                )
        definition = ir.Definition(
            name=decl.name,
            relations=relations,
            permissions=permissions,
            acts_for=index.acts_for.relation if index.acts_for else None,
            doc=decl.doc,
            order=tuple(order),
            position=self.position(decl.name_span),
        )
        return definition, index

    def rewrite(self, expr: ast.Expr) -> ir.Rewrite:
        if isinstance(expr, ast.Ident):
            return ir.ComputedUserset(expr.name)
        if isinstance(expr, ast.NilExpr):
            return ir.Nil()
        if isinstance(expr, ast.SelfExpr):
            return ir.SelfRef()
        if isinstance(expr, ast.Arrow):
            if isinstance(expr.left, ast.Arrow):
                self.error(
                    expr.right.span,
                    "nested arrows are not supported (`a->b->c`): add a permission on the "
                    "intermediate type and arrow to it",
                )
                return ir.Nil()
            return ir.TupleToUserset(expr.left.name, expr.right.name, expr.mode)
        if isinstance(expr, ast.Exclusion):
            return ir.Exclusion(self.rewrite(expr.left), self.rewrite(expr.right))
        children: list[ir.Rewrite] = []
        for child in expr.children:
            compiled = self.rewrite(child)
            if (isinstance(expr, ast.Union) and isinstance(compiled, ir.Union)) or (
                isinstance(expr, ast.Intersection) and isinstance(compiled, ir.Intersection)
            ):
                children.extend(compiled.children)
            else:
                children.append(compiled)
        if isinstance(expr, ast.Union):
            return ir.Union(tuple(children))
        return ir.Intersection(tuple(children))

    # --- caveats -------------------------------------------------------------------------------

    def caveat_type(self, ref: ast.CaveatTypeRef) -> ir.CaveatType | None:
        arity = CAVEAT_TYPES.get(ref.name)
        if arity is None:
            known = ", ".join(sorted(CAVEAT_TYPES))
            self.error(ref.span, f"unknown caveat parameter type `{ref.name}`; the types are: {known}")
            return None
        if len(ref.args) != arity:
            if arity == 0:
                self.error(ref.span, f"type `{ref.name}` takes no type arguments")
            else:
                self.error(
                    ref.span, f"type `{ref.name}` takes exactly one type argument, e.g. `{ref.name}<string>`"
                )
            return None
        args = [self.caveat_type(arg) for arg in ref.args]
        if any(arg is None for arg in args):
            return None
        return ir.CaveatType(ref.name, tuple(a for a in args if a is not None))

    def caveat(self, decl: ast.CaveatDecl) -> ir.CaveatDefinition:
        parameters: dict[str, ir.CaveatType] = {}
        before = len(self.diagnostics)
        if not decl.params:
            self.error(decl.name_span, f"caveat `{decl.name}` must declare at least one parameter")
        for param in decl.params:
            if param.name in parameters:
                self.error(param.span, f"parameter `{param.name}` is declared twice in caveat `{decl.name}`")
                continue
            if _PARAM_RE.fullmatch(param.name) is None:
                self.error(
                    param.span, f"invalid parameter name `{param.name}`: use ASCII letters, digits and '_'"
                )
            param_type = self.caveat_type(param.type)
            parameters[param.name] = param_type if param_type is not None else ir.CaveatType("any")
        declared = frozenset(p.name for p in decl.params)
        problems = check_expression(decl.expression, declared)
        if not problems and len(self.diagnostics) == before:
            problems = type_check(decl.expression, parameters)
        for offset, message in problems:
            self.error(Span(decl.expression_span.start + offset, decl.expression_span.end), message)
        return ir.CaveatDefinition(
            decl.name,
            parameters,
            normalize_expression(decl.expression),
            decl.doc,
            self.position(decl.name_span),
        )


def compile_tree(tree: ast.SchemaFile, source: Source) -> Compiled:
    """Compile a syntax tree into IR, collecting declaration-level diagnostics."""
    return _Compiler(tree, source).run()
