"""Exact lookup_resources without per-candidate checks, where the schema makes that sound.

The reverse walk (:class:`rebac.engine.candidates.ReverseWalk`) computes a least fixpoint, which
is exact for *monotone* parts of the schema: members whose whole dependency graph has no
intersection, exclusion, ``.all`` arrow or caveated relation. Above those, set operations of
members that are not recursive can be combined exactly (union, intersection, difference). When any part of the
answer cannot be computed this way, :func:`exact_resources` returns ``None`` and the caller falls
back to candidate generation plus checks. The consistency tests compare both paths with check.
"""

from __future__ import annotations

from rebac.engine.candidates import ReverseWalk
from rebac.engine.model import SchemaModel
from rebac.refs import SubjectRef
from rebac.schema import ir

__all__ = ["SchemaShape", "exact_resources"]

Key = tuple[str, str]


class SchemaShape:
    """Static facts about members: monotone (walk-exact) and recursive ones."""

    __slots__ = ("_deps", "_model", "_monotone")

    def __init__(self, model: SchemaModel) -> None:
        self._model = model
        self._deps: dict[Key, set[Key]] = {}
        self._monotone: dict[Key, bool] = {}
        for definition in model.schema.definitions.values():
            for relation in definition.relations.values():
                self._deps[definition.name, relation.name] = {
                    (a.type, a.relation)
                    for a in relation.allowed
                    if a.relation is not None and model.has_member(a.type, a.relation)
                }
            for permission in definition.permissions.values():
                self._deps[definition.name, permission.name] = self._rewrite_deps(
                    definition, permission.rewrite
                )

    def _rewrite_deps(self, definition: ir.Definition, rewrite: ir.Rewrite) -> set[Key]:
        match rewrite:
            case ir.ComputedUserset(relation=name):
                return {(definition.name, name)}
            case ir.TupleToUserset(tupleset=tupleset, computed=computed):
                deps: set[Key] = {(definition.name, tupleset)}
                relation = definition.relations.get(tupleset)
                for allowed in relation.allowed if relation else ():
                    if self._model.has_member(allowed.type, computed):
                        deps.add((allowed.type, computed))
                return deps
            case ir.Union(children=children) | ir.Intersection(children=children):
                return set().union(*(self._rewrite_deps(definition, c) for c in children))
            case ir.Exclusion(base=base, subtract=subtract):
                return self._rewrite_deps(definition, base) | self._rewrite_deps(definition, subtract)
        return set()

    def _locally_monotone(self, key: Key) -> bool:
        member = self._model.member(*key)
        if isinstance(member, ir.Relation):
            return all(a.caveat is None for a in member.allowed)
        return _monotone_rewrite(member.rewrite)

    def monotone(self, key: Key) -> bool:
        """True when every member ``key`` depends on is caveat-free and uses only ``+`` and ``->``."""
        if key not in self._monotone:
            seen: set[Key] = set()
            stack = [key]
            result = True
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                if not self._locally_monotone(current):
                    result = False
                    break
                stack.extend(self._deps.get(current, ()))
            self._monotone[key] = result
        return self._monotone[key]

    def recursive(self, key: Key) -> bool:
        """True when ``key`` can depend on itself."""
        seen: set[Key] = set()
        stack = list(self._deps.get(key, ()))
        while stack:
            current = stack.pop()
            if current == key:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._deps.get(current, ()))
        return False


def _monotone_rewrite(rewrite: ir.Rewrite) -> bool:
    match rewrite:
        case ir.Intersection() | ir.Exclusion():
            return False
        case ir.TupleToUserset(mode=mode):
            return mode == "any"
        case ir.Union(children=children):
            return all(_monotone_rewrite(c) for c in children)
    return True


async def exact_resources(
    walk: ReverseWalk, shape: SchemaShape, model: SchemaModel, subject: SubjectRef, key: Key
) -> set[str] | None:
    """The exact ids of ``key[0]`` having ``key[1]`` for ``subject``, or ``None`` if unsure."""
    if shape.monotone(key):
        return await walk.resources(*key)
    member = model.member(*key)
    if isinstance(member, ir.Relation) or shape.recursive(key):
        return None
    found = await _exact_rewrite(walk, shape, model, subject, resource_type=key[0], rewrite=member.rewrite)
    if found is not None and subject.type == key[0] and subject.relation == key[1]:
        found.add(subject.id)
    return found


async def _exact_rewrite(
    walk: ReverseWalk,
    shape: SchemaShape,
    model: SchemaModel,
    subject: SubjectRef,
    *,
    resource_type: str,
    rewrite: ir.Rewrite,
) -> set[str] | None:
    parts: list[set[str] | None]
    match rewrite:
        case ir.Nil():
            return set()
        case ir.SelfRef():
            if subject.type == resource_type and subject.relation is None:
                return {subject.id}
            return set()
        case ir.ComputedUserset(relation=name):
            return await exact_resources(walk, shape, model, subject, (resource_type, name))
        case ir.TupleToUserset(tupleset=tupleset, computed=computed, mode="any"):
            relation = model.definition(resource_type).relations.get(tupleset)
            if relation is None:
                return set()
            if any(a.caveat is not None for a in relation.allowed):
                return None
            out: set[str] = set()
            for subject_type in dict.fromkeys(a.type for a in relation.allowed):
                if not model.has_member(subject_type, computed):
                    continue
                members = await exact_resources(walk, shape, model, subject, (subject_type, computed))
                if members is None:
                    return None
                out |= await walk.resources_via(resource_type, tupleset, subject_type, members)
            return out
        case ir.Union(children=children):
            parts = [
                await _exact_rewrite(walk, shape, model, subject, resource_type=resource_type, rewrite=c)
                for c in children
            ]
            if any(p is None for p in parts):
                return None
            return set().union(*(p for p in parts if p is not None))
        case ir.Intersection(children=children):
            parts = [
                await _exact_rewrite(walk, shape, model, subject, resource_type=resource_type, rewrite=c)
                for c in children
            ]
            if not parts or any(p is None for p in parts):
                return None
            first, *rest = [p for p in parts if p is not None]
            return first.intersection(*rest)
        case ir.Exclusion(base=base, subtract=subtract):
            kept = await _exact_rewrite(
                walk, shape, model, subject, resource_type=resource_type, rewrite=base
            )
            if kept is None or not kept:
                return kept
            removed = await _exact_rewrite(
                walk, shape, model, subject, resource_type=resource_type, rewrite=subtract
            )
            return None if removed is None else kept - removed
    return None
