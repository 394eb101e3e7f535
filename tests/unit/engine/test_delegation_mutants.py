# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Delegation's fail-closed edges pinned down where mutation testing found no test (docs/mutation.md).

Principal edges the schema cannot produce (a wildcard or a subject set as a principal, a caveated
principal edge) may still be in a store written around the API; they must never widen what an
agent may do: they are no edge, and the edges read after them still count. Errors carry the
details the API shows (the limit's name, the maximum, the subject).
"""

from __future__ import annotations

import pytest
from engine_helpers import make_engine

from rebac.config import EngineSettings
from rebac.engine import Permissionship
from rebac.errors import BudgetExceededError, DelegationError, InvalidInputError, LimitExceededError
from rebac.limits import MAX_FANOUT
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.store.base import Operation, RelationshipUpdate

NO = Permissionship.NO_PERMISSION
YES = Permissionship.HAS_PERMISSION

SCHEMA = """
definition user {}

caveat never(flag bool) { flag && !flag }

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition doc {
    relation viewer: user | user:* | agent
    permission view = viewer
}
"""


async def _check(engine, text, **kwargs):
    left, subject = text.split("@")
    resource, permission = left.split("#")
    return await engine.check(parse_object(resource), permission, parse_subject(subject), **kwargs)


async def test_a_wildcard_principal_is_no_principal():
    # doc:d is public, so a user:* principal would let the agent in: it must stay an orphan
    rels = ["agent:a#principal@user:*", "doc:d#viewer@user:*", "doc:d#viewer@agent:a"]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await _check(engine, "doc:d#view@user:tom")).permissionship is YES
    assert (await _check(engine, "doc:d#view@agent:a")).permissionship is NO


@pytest.mark.parametrize("bad", ["user:b#member", "user:b[never]"])
async def test_the_principals_read_after_an_impossible_edge_still_cap_the_agent(bad):
    # alice may view, carol may not; the impossible edge sorts between them
    rels = [
        "agent:a#principal@user:alice",
        f"agent:a#principal@{bad}",
        "agent:a#principal@user:carol",
        "doc:d#viewer@agent:a",
        "doc:d#viewer@user:alice",
        "doc:d#viewer@user:b",
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await _check(engine, "doc:d#view@agent:a", context={"flag": True})).permissionship is NO
    assert (await _check(engine, "doc:d#view@agent:a", delegation=False)).permissionship is YES


async def test_via_errors_name_the_entry_and_the_limit():
    engine, _ = await make_engine(SCHEMA, ["agent:a#principal@user:alice"])
    with pytest.raises(InvalidInputError) as caught:
        await _check(engine, "doc:d#view@agent:a", via=[parse_subject("user:*")])
    assert "user:*" in caught.value.message
    with pytest.raises(LimitExceededError) as too_long:
        await _check(engine, "doc:d#view@agent:a", via=[parse_subject(f"agent:v{i}") for i in range(9)])
    assert too_long.value.details == {"limit": "MAX_DELEGATION_HOPS", "maximum": 8, "actual": 9}
    assert too_long.value.message


def _chain(length):
    rels = [f"agent:c{i}#principal@agent:c{i + 1}" for i in range(length - 1)]
    return [*rels, f"agent:c{length - 1}#principal@user:root"]


async def test_a_chain_too_long_names_the_subject_and_the_maximum():
    engine, _ = await make_engine(SCHEMA, _chain(3), settings=EngineSettings(max_delegation_hops=2))
    with pytest.raises(DelegationError) as caught:
        await _check(engine, "doc:d#view@agent:c0")
    expected = {"reason": "max_delegation_hops_exceeded", "maximum": 2, "subject": "agent:c0"}
    assert caught.value.details == expected
    assert caught.value.message
    # found after reading: a -> b1 -> b2 -> b3 -> user is 4 edges, though a also acts for b3
    rels = ["agent:a#principal@agent:b1", "agent:b1#principal@agent:b2", "agent:b2#principal@agent:b3"]
    rels += ["agent:a#principal@agent:b3", "agent:b3#principal@user:root"]
    engine, _ = await make_engine(SCHEMA, rels, settings=EngineSettings(max_delegation_hops=3))
    with pytest.raises(DelegationError) as caught:
        await _check(engine, "doc:d#view@agent:a")
    assert caught.value.details == {**expected, "maximum": 3, "subject": "agent:a"}


async def test_a_principal_graph_over_the_fanout_budget_is_an_error_that_says_so():
    engine, store = await make_engine(SCHEMA, ["doc:d#viewer@agent:a"])
    for start in range(0, MAX_FANOUT, 1000):  # one principal too many: the agent and MAX_FANOUT users
        rels = [f"agent:a#principal@user:u{i}" for i in range(start, min(start + 1000, MAX_FANOUT))]
        await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in rels])
    with pytest.raises(BudgetExceededError) as caught:
        await _check(engine, "doc:d#view@agent:a")
    assert caught.value.details == {"reason": "delegation_fanout_exceeded", "maximum": MAX_FANOUT}
    assert caught.value.message


async def test_the_principals_read_after_a_wildcard_principal_still_cap_the_agent():
    # agent:ok (for alice) may view, carol may not; the wildcard principal is read between them
    rels = [
        "agent:a#principal@agent:ok",
        "agent:a#principal@user:*",
        "agent:a#principal@user:carol",
        "agent:ok#principal@user:alice",
        "doc:d#viewer@agent:a",
        "doc:d#viewer@agent:ok",
        "doc:d#viewer@user:alice",
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await _check(engine, "doc:d#view@agent:ok")).permissionship is YES
    assert (await _check(engine, "doc:d#view@agent:a")).permissionship is NO


async def test_two_principals_that_share_a_principal_are_no_cycle():
    # a diamond, s -> a -> c and s -> b -> c: c's component is done when b reaches it again;
    # counting it as still open merged b and s into a false cycle, and a false cycle denies all
    rels = [
        "agent:s#principal@agent:a",
        "agent:s#principal@agent:b",
        "agent:a#principal@user:c",
        "agent:b#principal@user:c",
        "doc:d#viewer@agent:s",
        "doc:d#viewer@agent:a",
        "doc:d#viewer@agent:b",
        "doc:d#viewer@user:c",
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    result = await _check(engine, "doc:d#view@agent:s")
    assert result.permissionship is YES
    assert not result.cycle_detected
    rels.remove("doc:d#viewer@user:c")
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await _check(engine, "doc:d#view@agent:s")).permissionship is NO
