"""``Engine.check_traced`` answers what ``Engine.check`` answers, on random worlds.

The worlds of ``test_oracle.py``. A traced check bypasses the cross-request cache and uses
everything else as ``check`` does, so it must equal, field for field, ``check`` on an engine
without a cache; against ``check`` on an engine with its cache ON (served partly from entries
earlier checks stored) the decision must be the same: permissionship, missing caveat parameters,
expiry and delegation hops. (The bookkeeping fields ``depth_required`` and ``cycle_detected`` of a
cycle-affected answer depend on which sub-answers came from the cache, for ``check`` alike.)
The trace's root must carry the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from strategies import OBJECT_IDS, World, worlds

from rebac.config import EngineSettings
from rebac.engine import CheckCache, CheckResult, Engine
from rebac.errors import EvaluationError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import compile_schema
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate, TupleStore

StoreFactory = Callable[..., AbstractAsyncContextManager[TupleStore]]
Check = tuple[ObjectRef, str, SubjectRef]

_FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)
_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]


def _failure(exc: EvaluationError) -> str:
    return f"error {type(exc).__name__}: {exc}"


def _decision(answer: CheckResult | str) -> object:
    if isinstance(answer, str):
        return answer
    return (answer.permissionship, answer.missing, answer.expires_at, answer.delegation)


async def _checked(engine: Engine, check: Check, context: Mapping[str, Any]) -> CheckResult | str:
    try:
        return await engine.check(*check, consistency=_FRESH, context=context)
    except EvaluationError as exc:
        return _failure(exc)


async def _traced(engine: Engine, check: Check, context: Mapping[str, Any]) -> CheckResult | str:
    try:
        result, trace = await engine.check_traced(*check, consistency=_FRESH, context=context)
    except EvaluationError as exc:
        return _failure(exc)
    if trace.result is not result.permissionship:
        return f"trace root {trace.result} for {result}"
    return result


@settings(max_examples=40, deadline=None, suppress_health_check=_HEALTH)
@given(world=worlds())
async def test_check_traced_answers_what_check_answers(store_factory: StoreFactory, world: World) -> None:
    note(world.describe())
    problems: list[str] = []
    async with store_factory("memory", quantization_seconds=0) as store:
        if world.relationships:
            await store.write([RelationshipUpdate(Operation.TOUCH, rel) for rel in world.relationships])
        schema = compile_schema(world.text, "generated.zed")
        cached = Engine.build(store, schema, cache=CheckCache())
        uncached = Engine.build(store, schema, settings=EngineSettings(cache_enabled=False))
        for context in world.contexts:
            for subject in world.subjects:
                for type_name in world.resource_types():
                    definition = world.schema.definitions[type_name]
                    for member in [*definition.permissions, *definition.relations]:
                        for oid in OBJECT_IDS:
                            check = (ObjectRef(type_name, oid), member, subject)
                            served = await _checked(cached, check, context)
                            traced = await _traced(cached, check, context)
                            fresh = await _checked(uncached, check, context)
                            if traced != fresh or _decision(traced) != _decision(served):
                                problems.append(
                                    f"{check} ctx={context}: check={served} uncached={fresh} traced={traced}"
                                )
    assert not problems, "\n".join(problems[:12]) + f"\n--- world ---\n{world.describe()}"
