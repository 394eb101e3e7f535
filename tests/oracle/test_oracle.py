"""Differential tests: the engine against the naive reference evaluator on random worlds.

Each hypothesis example is a random small schema (printed as text and compiled by
``rebac.schema.compile_schema``) plus relationships consistent with it. For every
(resource, relation-or-permission, subject, request context) of the world the engine's check must
equal the naive oracle's; ``lookup_resources`` must equal "every resource whose check is not NO";
``lookup_subjects`` (wildcard items expanded with their exclusions) must equal brute force over
every subject id of the world plus a stranger.

The engine runs with its check cache ON and one engine instance per world, so later checks are
served from entries earlier checks stored: a wrong cache key or a cached cycle-cut answer shows
up as a disagreement too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from naive import NaiveWorld, Tri
from strategies import CAVEAT_FNS, OBJECT_IDS, STRANGER, USER, World, worlds

from rebac.engine import CheckCache, Engine, LookupSubjectItem, Permissionship
from rebac.errors import EvaluationError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import compile_schema
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate, TupleStore

StoreFactory = Callable[..., AbstractAsyncContextManager[TupleStore]]

_TRI = {
    Permissionship.NO_PERMISSION: Tri.NO,
    Permissionship.CONDITIONAL: Tri.CONDITIONAL,
    Permissionship.HAS_PERMISSION: Tri.YES,
}
_FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)
_MAX_REPORTED = 12


async def _engine_for(store: TupleStore, world: World) -> Engine:
    schema = compile_schema(world.text, "generated.zed")
    if world.relationships:
        await store.write([RelationshipUpdate(Operation.TOUCH, rel) for rel in world.relationships])
    return Engine.build(store, schema, cache=CheckCache())


def _members(world: World, type_name: str, *, permissions_only: bool) -> list[str]:
    definition = world.schema.definitions[type_name]
    names = list(definition.permissions)
    if not permissions_only:
        names += list(definition.relations)
    return names


def _resource_ids(oracle: NaiveWorld, type_name: str) -> list[str]:
    return sorted(oracle.objects(type_name) | set(OBJECT_IDS))


def _subject_candidates(oracle: NaiveWorld, type_name: str) -> list[SubjectRef]:
    ids = oracle.objects(type_name) | {STRANGER}
    return [SubjectRef(type_name, sid) for sid in sorted(ids)]


async def _engine_check(
    engine: Engine, resource: ObjectRef, member: str, subject: SubjectRef, context: dict[str, Any]
) -> Tri | str:
    try:
        result = await engine.check(resource, member, subject, consistency=_FRESH, context=context)
    except EvaluationError as exc:
        return f"error {type(exc).__name__}: {exc}"
    return _TRI[result.permissionship]


async def _compare_checks(
    engine: Engine, oracle: NaiveWorld, world: World, *, permissions_only: bool, subjects: list[SubjectRef]
) -> list[str]:
    problems: list[str] = []
    for context in world.contexts:
        for subject in subjects:
            for type_name in world.resource_types():
                for member in _members(world, type_name, permissions_only=permissions_only):
                    for oid in _resource_ids(oracle, type_name):
                        resource = ObjectRef(type_name, oid)
                        want = oracle.check(resource, member, subject, context)
                        got = await _engine_check(engine, resource, member, subject, context)
                        if got != want:
                            problems.append(
                                f"check {resource}#{member}@{subject} ctx={context}: "
                                f"naive={want!r} engine={got!r}"
                            )
    return problems


async def _all_resources(
    engine: Engine, type_name: str, member: str, subject: SubjectRef, context: dict[str, Any]
) -> dict[str, Tri]:
    found: dict[str, Tri] = {}
    cursor: str | None = None
    while True:
        page = await engine.lookup_resources(
            type_name, member, subject, consistency=_FRESH, context=context, limit=2, cursor=cursor
        )
        for item in page.items:
            assert item.resource_id not in found, f"lookup_resources repeated {item.resource_id}"
            found[item.resource_id] = _TRI[item.permissionship]
        cursor = page.cursor
        if cursor is None:
            return found


async def _all_subjects(
    engine: Engine, resource: ObjectRef, member: str, subject_type: str, context: dict[str, Any]
) -> list[LookupSubjectItem]:
    items: list[LookupSubjectItem] = []
    cursor: str | None = None
    while True:
        page = await engine.lookup_subjects(
            resource, member, subject_type, consistency=_FRESH, context=context, limit=2, cursor=cursor
        )
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return items


def _expand_subject_items(
    items: list[LookupSubjectItem], candidates: list[SubjectRef]
) -> dict[SubjectRef, Tri]:
    """What the engine's answer says about each candidate: listed, covered by ``*``, or NO."""
    listed = {item.subject: _TRI[item.permissionship] for item in items if not item.subject.is_wildcard}
    wildcards = [item for item in items if item.subject.is_wildcard]
    out: dict[SubjectRef, Tri] = {}
    for candidate in candidates:
        value = listed.get(candidate, Tri.NO)
        for wildcard in wildcards:
            if candidate not in wildcard.excluded:
                value |= _TRI[wildcard.permissionship]
        if value is not Tri.NO:
            out[candidate] = value
    return out


async def _compare_lookups(engine: Engine, oracle: NaiveWorld, world: World) -> list[str]:
    problems: list[str] = []
    subject_types = list(world.schema.definitions)
    for context in world.contexts:
        for type_name in world.resource_types():
            for member in _members(world, type_name, permissions_only=False):
                for subject in world.subjects:
                    want_r = oracle.lookup_resources(type_name, member, subject, context)
                    try:
                        got_r: dict[str, Tri] | str = await _all_resources(
                            engine, type_name, member, subject, context
                        )
                    except EvaluationError as exc:
                        got_r = f"error {type(exc).__name__}: {exc}"
                    if got_r != want_r:
                        problems.append(
                            f"lookup_resources {type_name}#{member}@{subject} ctx={context}: "
                            f"naive={want_r} engine={got_r}"
                        )
                for oid in OBJECT_IDS:
                    resource = ObjectRef(type_name, oid)
                    for subject_type in subject_types:
                        candidates = _subject_candidates(oracle, subject_type)
                        want_s = oracle.lookup_subjects(resource, member, candidates, context)
                        try:
                            items = await _all_subjects(engine, resource, member, subject_type, context)
                        except EvaluationError as exc:
                            problems.append(
                                f"lookup_subjects {resource}#{member} {subject_type}: error {exc}"
                            )
                            continue
                        got_s = _expand_subject_items(items, candidates)
                        if got_s != want_s:
                            problems.append(
                                f"lookup_subjects {resource}#{member} type={subject_type} ctx={context}: "
                                f"naive={ {str(k): v.name for k, v in want_s.items()} } "
                                f"engine={ {str(k): v.name for k, v in got_s.items()} } items={items}"
                            )
    return problems


def _report(world: World, problems: list[str]) -> str:
    shown = "\n".join(problems[:_MAX_REPORTED])
    more = f"\n... and {len(problems) - _MAX_REPORTED} more" if len(problems) > _MAX_REPORTED else ""
    return f"{len(problems)} disagreement(s)\n{shown}{more}\n--- world ---\n{world.describe()}"


_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]


@settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)
@given(world=worlds())
async def test_check_matches_naive_oracle_memory(store_factory: StoreFactory, world: World) -> None:
    note(world.describe())
    oracle = NaiveWorld(world.schema, world.relationships, CAVEAT_FNS)
    async with store_factory("memory", quantization_seconds=0) as store:
        engine = await _engine_for(store, world)
        problems = await _compare_checks(
            engine, oracle, world, permissions_only=False, subjects=world.subjects
        )
    assert not problems, _report(world, problems)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=_HEALTH,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking cyclic worlds takes minutes
)
@given(world=worlds(dense=True))
async def test_dense_cyclic_worlds_match_naive_oracle_memory(
    store_factory: StoreFactory, world: World
) -> None:
    """More objects and relationships per world: multi-node data cycles are the point here."""
    note(world.describe())
    oracle = NaiveWorld(world.schema, world.relationships, CAVEAT_FNS)
    users = [s for s in world.subjects if s.type == USER]
    async with store_factory("memory", quantization_seconds=0) as store:
        engine = await _engine_for(store, world)
        problems = await _compare_checks(engine, oracle, world, permissions_only=True, subjects=users)
    assert not problems, _report(world, problems)


@settings(max_examples=100, deadline=None, suppress_health_check=_HEALTH)
@given(world=worlds())
async def test_lookups_match_brute_force_memory(store_factory: StoreFactory, world: World) -> None:
    note(world.describe())
    oracle = NaiveWorld(world.schema, world.relationships, CAVEAT_FNS)
    async with store_factory("memory", quantization_seconds=0) as store:
        engine = await _engine_for(store, world)
        problems = await _compare_lookups(engine, oracle, world)
    assert not problems, _report(world, problems)


@pytest.mark.integration
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=_HEALTH,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # the memory tests shrink; this one reports
)
@given(world=worlds())
@pytest.mark.parametrize("kind", ["postgres", "indexed"])
async def test_check_and_lookups_match_naive_oracle_postgres(
    store_factory: StoreFactory, world: World, kind: str
) -> None:
    note(world.describe())
    oracle = NaiveWorld(world.schema, world.relationships, CAVEAT_FNS)
    users = [s for s in world.subjects if s.type == USER]
    async with store_factory(kind, quantization_seconds=0) as store:
        engine = await _engine_for(store, world)
        problems = await _compare_checks(engine, oracle, world, permissions_only=True, subjects=users)
        problems += await _compare_lookups(engine, oracle, world)
    assert not problems, _report(world, problems)
