# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""An error on an exclusion's subtracted side, or in a caveat, is an error on every store: never "not b"."""

from __future__ import annotations

import pytest

from rebac.config import EngineSettings
from rebac.engine import Engine
from rebac.engine.model import reachability_for
from rebac.errors import CaveatEvaluationError, MaxDepthExceededError
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.validation.files import parse_validation_text
from rebac.services.validation.run import run_file
from rebac.store.base import Operation, RelationshipUpdate
from rebac.store.memory import MemoryTupleStore

pytestmark = pytest.mark.conformance

SCHEMA = """
definition user {}
definition group {
    relation member: user | group#member
}
caveat spend(arguments map<any>, x int, y int) { arguments.amount < 10 && x / y > 0 }
definition doc {
    relation plain: user
    relation banned: user with spend
    relation blocked: group#member
    permission kept = plain - banned
    permission open = plain - blocked
    permission nested = (plain - banned) + (plain & banned)
}
"""
CHAIN = [f"group:g{i}#member@group:g{i + 1}#member" for i in range(12)]
RELATIONSHIPS = [
    "doc:1#plain@user:tom",
    "doc:1#banned@user:tom[spend]",
    "doc:1#blocked@group:g0#member",
    *CHAIN,
    "group:g12#member@user:eve",
]


async def _engine(store, max_depth: int = 50) -> Engine:
    compiled = compile_schema(SCHEMA, "fail_closed.zed")
    await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in RELATIONSHIPS])
    return Engine.build(
        store,
        compiled,
        reachability=reachability_for(compiled),
        settings=EngineSettings(max_depth=max_depth, cache_enabled=False),
    )


async def _check(engine: Engine, permission: str, context=None):
    return await engine.check(parse_object("doc:1"), permission, parse_subject("user:tom"), context=context)


@pytest.mark.parametrize(
    "context", [{"arguments": {}, "x": 1, "y": 1}, {"arguments": {"amount": 1}, "x": 1, "y": 0}]
)
@pytest.mark.parametrize("permission", ["kept", "nested"])
async def test_a_caveat_error_on_the_subtracted_side_is_an_error(
    store_factory, store_kind, permission, context
):
    async with store_factory(store_kind, quantization_seconds=0) as store:
        engine = await _engine(store)
        with pytest.raises(CaveatEvaluationError):
            await _check(engine, permission, context)
        ok = await _check(engine, permission, {"arguments": {"amount": 50}, "x": 1, "y": 1})
        assert ok.allowed  # the caveat is false: tom is not banned


async def test_running_out_of_depth_on_the_subtracted_side_is_an_error(store_factory, store_kind):
    async with store_factory(store_kind, quantization_seconds=0) as store:
        engine = await _engine(store, max_depth=6)
        with pytest.raises(MaxDepthExceededError):
            await _check(engine, "open")
        deep = await _engine(store, max_depth=50)
        assert (await _check(deep, "open")).allowed  # tom is not in the blocked chain


VALIDATION_FILE = """
schema: |-
  definition user {}
  caveat spend(arguments map<any>) { arguments.amount < 10 }
  definition tool {
    relation invoker: user with spend
    permission invoke = invoker
  }
relationships: |-
  tool:pay#invoker@user:tom[spend]
assertions:
  assertTrue:
    - 'tool:pay#invoke@user:tom with {"arguments": {"amount": 5}}'
  assertFalse:
    - 'tool:pay#invoke@user:tom with {"arguments": {}}'
"""


async def test_validate_reports_a_missing_map_key_as_one_failure_naming_the_key():
    vf = parse_validation_text(VALIDATION_FILE, "spend.yaml")
    report = await run_file(vf, MemoryTupleStore(quantization_seconds=0))
    [failure] = report.failures
    assert "no such key 'amount'" in failure.render()
    assert "\n" not in failure.render()
