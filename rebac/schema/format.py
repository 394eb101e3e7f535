"""IR → canonical schema text (``rebac schema fmt``).

The canonical form: ``use`` flags first (sorted), then every definition and caveat in declaration
order separated by blank lines; one member per line indented by a tab; ``acts_for`` last in its
definition; ``/** doc */`` comments kept; operators spaced; arrows written ``a->b`` (``.all(b)``
when needed); a composite operand of another operator always parenthesised, except the left side
of a chain of exclusions (``a - b - c``). Compiling the output gives back an equal IR and
formatting is idempotent.
"""

from __future__ import annotations

from rebac.schema import ir

__all__ = ["format_rewrite", "format_schema"]

_INDENT = "\t"


def _doc(doc: str | None, indent: str) -> list[str]:
    if not doc:
        return []
    lines = doc.splitlines()
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    body = [f"{indent} * {line}".rstrip() for line in lines]
    return [f"{indent}/**", *body, f"{indent} */"]


def _ordered(order: tuple[str, ...], names: list[str]) -> list[str]:
    """Names in declaration order; names missing from ``order`` (hand-built IR) come last."""
    known = set(names)
    listed = [n for n in dict.fromkeys(order) if n in known]
    return listed + [n for n in names if n not in set(listed)]


def _operand(rewrite: ir.Rewrite) -> str:
    text = format_rewrite(rewrite)
    if isinstance(rewrite, ir.Union | ir.Intersection | ir.Exclusion):
        return f"({text})"
    return text


def format_rewrite(rewrite: ir.Rewrite) -> str:
    """Print a permission expression in canonical form."""
    if isinstance(rewrite, ir.Nil):
        return "nil"
    if isinstance(rewrite, ir.SelfRef):
        return "self"
    if isinstance(rewrite, ir.ComputedUserset):
        return rewrite.relation
    if isinstance(rewrite, ir.TupleToUserset):
        if rewrite.mode == "all":
            return f"{rewrite.tupleset}.all({rewrite.computed})"
        return f"{rewrite.tupleset}->{rewrite.computed}"
    if isinstance(rewrite, ir.Union):
        return " + ".join(_operand(c) for c in rewrite.children)
    if isinstance(rewrite, ir.Intersection):
        return " & ".join(_operand(c) for c in rewrite.children)
    # Exclusion chains are printed iteratively: ``((a - b) - c)`` is ``a - b - c``.
    subtracted: list[ir.Rewrite] = []
    base: ir.Rewrite = rewrite
    while isinstance(base, ir.Exclusion):
        subtracted.append(base.subtract)
        base = base.base
    parts = [_operand(base), *(_operand(s) for s in reversed(subtracted))]
    return " - ".join(parts)


def _definition(definition: ir.Definition) -> list[str]:
    lines = _doc(definition.doc, "")
    names = _ordered(definition.order, [*definition.relations, *definition.permissions])
    if not names and definition.acts_for is None:
        return [*lines, f"definition {definition.name} {{}}"]
    lines.append(f"definition {definition.name} {{")
    for position, name in enumerate(names):
        relation = definition.relations.get(name)
        permission = definition.permissions.get(name)
        doc = relation.doc if relation is not None else permission.doc if permission is not None else None
        if doc and position > 0:
            lines.append("")
        lines.extend(_doc(doc, _INDENT))
        if relation is not None:
            allowed = " | ".join(str(a) for a in relation.allowed)
            lines.append(f"{_INDENT}relation {name}: {allowed}")
        elif permission is not None:
            annotation = f": {' | '.join(permission.annotations)}" if permission.annotations else ""
            lines.append(f"{_INDENT}permission {name}{annotation} = {format_rewrite(permission.rewrite)}")
    if definition.acts_for is not None:
        lines.append(f"{_INDENT}acts_for {definition.acts_for}")
    lines.append("}")
    return lines


def _caveat(caveat: ir.CaveatDefinition) -> list[str]:
    params = ", ".join(f"{name} {kind}" for name, kind in caveat.parameters.items())
    lines = [*_doc(caveat.doc, ""), f"caveat {caveat.name}({params}) {{"]
    lines.extend(f"{_INDENT}{line}" if line.strip() else "" for line in caveat.expression.splitlines())
    lines.append("}")
    return lines


def format_schema(schema: ir.Schema) -> str:
    """Print a compiled schema in canonical form (ends with a newline; empty schema → ``""``)."""
    blocks: list[list[str]] = []
    if schema.use_flags:
        blocks.append([f"use {flag}" for flag in sorted(schema.use_flags)])
    names = _ordered(schema.order, [*schema.definitions, *schema.caveats])
    for name in names:
        if name in schema.definitions:
            blocks.append(_definition(schema.definitions[name]))
        elif name in schema.caveats:
            blocks.append(_caveat(schema.caveats[name]))
    if not blocks:
        return ""
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
