"""Expected-relations comparison for validation files (SpiceDB's ``validation:`` section).

The membership set of ``resource#permission`` is derived from a fully recursive expand: every
subject reachable through leaves (following subject sets), with the ``resource#relation`` leaves
in which it appears directly. Intersections keep subjects present in every branch; exclusions
remove the subtracted subjects (a wildcard on the left is shown as ``type:* - {excluded}``).
Subjects on caveated relationships are shown with ``[caveat]`` as SpiceDB does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from rebac.engine.results import ExpandKind, ExpandNode
from rebac.refs import ObjectRef
from rebac.services.validation.files import ExpectedRelation

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = ["expected_mismatches", "membership"]

Members = dict[str, set[str]]


async def _members(engine: Engine, node: ExpandNode, seen: set[tuple[str, str]]) -> Members:
    out: Members = defaultdict(set)
    if node.kind is ExpandKind.LEAF:
        origin = f"{node.resource}#{node.relation}"
        for item in node.subjects:
            text = str(item.subject)
            if item.caveat:
                text += f"[{item.caveat}]"
            out[text].add(origin)
            subject = item.subject
            if subject.relation is not None:
                key = (str(subject.object), subject.relation)
                if key in seen:
                    continue
                seen.add(key)
                tree = await engine.expand(ObjectRef(subject.type, subject.id), subject.relation)
                for name, origins in (await _members(engine, tree, seen)).items():
                    out[name] |= origins
        return out
    parts = [await _members(engine, child, set(seen)) for child in node.children]
    if node.kind is ExpandKind.UNION:
        for part in parts:
            for name, origins in part.items():
                out[name] |= origins
    elif node.kind is ExpandKind.INTERSECTION:
        if parts:
            common = set(parts[0]).intersection(*parts[1:])
            for name in common:
                for part in parts:
                    out[name] |= part[name]
    elif parts:
        base, *rest = parts
        removed = set().union(*rest) if rest else set()
        for name, origins in base.items():
            if name.endswith(":*"):
                excluded = sorted(r for r in removed if r.split(":", 1)[0] == name.split(":", 1)[0])
                shown = f"{name} - {{{', '.join(excluded)}}}" if excluded else name
                out[shown] |= origins
            elif name not in removed:
                out[name] |= origins
    return out


async def membership(engine: Engine, resource: ObjectRef, permission: str) -> Members:
    """Subject text -> the ``resource#relation`` leaves it appears on."""
    tree = await engine.expand(resource, permission)
    return dict(await _members(engine, tree, {(str(resource), permission)}))


async def expected_mismatches(engine: Engine, expected: ExpectedRelation) -> list[str]:
    """Human-readable differences between the expected and the derived membership."""
    actual = await membership(engine, expected.resource, expected.permission)
    wanted = {item.subject: set(item.origins) for item in expected.subjects}
    problems: list[str] = []
    for name in sorted(set(wanted) | set(actual)):
        if name not in actual:
            problems.append(f"expected subject [{name}] is missing")
        elif name not in wanted:
            origins = ", ".join(f"<{o}>" for o in sorted(actual[name]))
            problems.append(f"unexpected subject [{name}] is {origins}")
        elif wanted[name] != actual[name]:
            origins = ", ".join(f"<{o}>" for o in sorted(actual[name]))
            problems.append(f"subject [{name}] is {origins}, not as expected")
    return problems
