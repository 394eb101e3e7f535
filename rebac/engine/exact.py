"""Exact lookup_resources without per-candidate checks, where the schema makes that sound.

The reverse walk (:class:`rebac.engine.candidates.ReverseWalk`) computes a least fixpoint, which
is exact for *monotone* parts of the schema: members whose whole dependency graph has no
intersection, exclusion, ``.all`` arrow or caveated relation. Above those, set operations of
members that are not recursive can be combined exactly (union, intersection, difference). When any part of the
answer cannot be computed this way, :func:`exact_resources` returns ``None`` and the caller falls
back to candidate generation plus checks. The consistency tests compare both paths with check.
Which rewrite kinds are monotone, and how each combines exactly, is its rule's
(:meth:`rebac.engine.rewrites.Rule.monotone`, :meth:`rebac.engine.rewrites.Rule.exact`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rebac.engine import rewrites
from rebac.engine.candidates import ReverseWalk
from rebac.engine.mechanics import SameObject, Step, Through
from rebac.engine.model import SchemaModel
from rebac.refs import SubjectRef
from rebac.schema.ir import Definition, Relation

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
                self._deps[definition.name, permission.name] = self._steps_deps(
                    definition, rewrites.steps(permission.rewrite)
                )

    def _steps_deps(self, definition: Definition, steps: Iterable[Step]) -> set[Key]:
        """The members a permission's steps (every operand's) read."""
        deps: set[Key] = set()
        for step in steps:
            if isinstance(step, SameObject):
                deps.add((definition.name, step.relation))
            elif isinstance(step, Through):
                deps.add((definition.name, step.tupleset))
                relation = definition.relations.get(step.tupleset)
                for allowed in relation.allowed if relation else ():
                    if self._model.has_member(allowed.type, step.computed):
                        deps.add((allowed.type, step.computed))
        return deps

    def _locally_monotone(self, key: Key) -> bool:
        member = self._model.member(*key)
        if isinstance(member, Relation):
            return all(a.caveat is None for a in member.allowed)
        return rewrites.monotone(member.rewrite)

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


@dataclass(frozen=True, slots=True)
class _Exact:
    """The mechanics the rules' exact set algebra uses (:class:`rebac.engine.mechanics.ExactOps`)."""

    walk: ReverseWalk
    shape: SchemaShape
    model: SchemaModel
    subject: SubjectRef

    async def exact(self, resource_type: str, name: str) -> set[str] | None:
        return await exact_resources(self.walk, self.shape, self.model, self.subject, (resource_type, name))

    async def resources_via(
        self, resource_type: str, relation: str, subject_type: str, subject_ids: Iterable[str]
    ) -> set[str]:
        return await self.walk.resources_via(resource_type, relation, subject_type, subject_ids)


async def exact_resources(
    walk: ReverseWalk, shape: SchemaShape, model: SchemaModel, subject: SubjectRef, key: Key
) -> set[str] | None:
    """The exact ids of ``key[0]`` having ``key[1]`` for ``subject``, or ``None`` if unsure."""
    if shape.monotone(key):
        return await walk.resources(*key)
    member = model.member(*key)
    if isinstance(member, Relation) or shape.recursive(key):
        return None
    ops = _Exact(walk, shape, model, subject)
    found = await rewrites.exact(ops, key[0], member.rewrite)
    if found is not None and subject.type == key[0] and subject.relation == key[1]:
        found.add(subject.id)
    return found
