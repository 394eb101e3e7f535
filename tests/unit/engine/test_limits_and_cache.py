# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Fail-closed limits (depth, deadline, cycles) and the cache's safety rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import Clock, make_engine, perm

from rebac.config import EngineSettings
from rebac.engine import CheckCache
from rebac.errors import DeadlineExceededError, MaxDepthExceededError
from rebac.refs import parse_object, parse_subject

GROUPS = """
definition user {}
definition group {
    relation member: user | group#member
}
definition doc {
    relation viewer: user | group#member
    relation banned: user | group#member
    permission view = viewer - banned
}
"""

CHAIN = [f"group:g{i}#member@group:g{i + 1}#member" for i in range(6)] + ["group:g6#member@user:tom"]


async def test_depth_budget_exhaustion_is_an_error_not_a_decision():
    engine, _ = await make_engine(GROUPS, CHAIN, settings=EngineSettings(max_depth=3))
    with pytest.raises(MaxDepthExceededError):
        await engine.check(parse_object("group:g0"), "member", parse_subject("user:tom"))


async def test_the_cache_does_not_serve_a_deep_answer_to_a_shallow_request():
    cache = CheckCache()
    deep, store = await make_engine(GROUPS, CHAIN, cache=cache)
    assert await perm(deep, "group:g0#member@user:tom") == "yes"
    shallow, _ = await make_engine(GROUPS, cache=cache, settings=EngineSettings(max_depth=3), store=store)
    shallow.model = deep.model  # same schema hash, same cache keys
    with pytest.raises(MaxDepthExceededError):
        await perm(shallow, "group:g0#member@user:tom")


async def test_deadline_is_an_error():
    engine, _ = await make_engine(GROUPS, CHAIN, settings=EngineSettings(request_deadline_seconds=-1.0))
    with pytest.raises(DeadlineExceededError):
        await perm(engine, "group:g0#member@user:tom")


@pytest.mark.parametrize("cached", [True, False])
async def test_cycles_terminate_deny_and_are_never_cached(cached):
    cache = CheckCache() if cached else None
    rels = ["group:a#member@group:b#member", "group:b#member@group:a#member", "doc:1#viewer@group:a#member"]
    engine, _ = await make_engine(GROUPS, rels, cache=cache)
    result = await engine.check(parse_object("doc:1"), "view", parse_subject("user:tom"))
    assert result.is_no
    assert result.cycle_detected
    if cache is not None:
        assert len(cache) == 0 or all(
            not r.cycle_detected for e in cache._entries.values() for r in e.results.values()
        )


async def test_cycle_with_a_real_member_still_grants():
    rels = [
        "group:a#member@group:b#member",
        "group:b#member@group:a#member",
        "group:b#member@user:tom",
        "doc:1#viewer@group:a#member",
    ]
    engine, _ = await make_engine(GROUPS, rels, cache=CheckCache())
    assert await perm(engine, "doc:1#view@user:tom") == "yes"
    assert await perm(engine, "group:a#member@user:tom") == "yes"


async def test_cycle_under_exclusion_does_not_grant():
    rels = [
        "group:a#member@group:b#member",
        "group:b#member@group:a#member",
        "doc:1#viewer@user:tom",
        "doc:1#banned@group:a#member",
    ]
    engine, _ = await make_engine(GROUPS, rels, cache=CheckCache())
    assert await perm(engine, "doc:1#view@user:tom") == "yes"  # tom is in no group: not banned


EXPIRING = """
use expiration
definition user {}
definition group {
    relation member: user with expiration
}
definition doc {
    relation viewer: group#member
    permission view = viewer
}
"""


@pytest.mark.parametrize("cached", [True, False])
async def test_expired_relationships_do_not_exist_even_through_the_cache(cached):
    clock = Clock()
    later = clock.now + timedelta(hours=1)
    rels = [f"group:g#member@user:tom[expiration:{later.isoformat()}]", "doc:1#viewer@group:g#member"]
    cache = CheckCache() if cached else None
    engine, _ = await make_engine(EXPIRING, rels, cache=cache, clock=clock)
    assert await perm(engine, "doc:1#view@user:tom") == "yes"
    clock.now = later
    assert await perm(engine, "doc:1#view@user:tom") == "no"


CAVEATED = """
definition user {}
caveat level(required int, actual int) { actual >= required }
definition doc {
    relation viewer: user with level
    permission view = viewer
}
"""


async def test_cache_key_includes_the_caveat_context():
    cache = CheckCache()
    engine, _ = await make_engine(CAVEATED, ['doc:1#viewer@user:tom[level:{"required":5}]'], cache=cache)
    assert await perm(engine, "doc:1#view@user:tom", {"actual": 9}) == "yes"
    assert await perm(engine, "doc:1#view@user:tom", {"actual": 1}) == "no"
    assert await perm(engine, "doc:1#view@user:tom") == "caveated"
    assert await perm(engine, "doc:1#view@user:tom", {"actual": 9}) == "yes"
    assert cache.stats.hits >= 1


async def test_cache_is_bounded():
    cache = CheckCache(max_entries=3)
    engine, _ = await make_engine(GROUPS, CHAIN, cache=cache)
    for i in range(7):
        await perm(engine, f"group:g{i}#member@user:tom")
    assert len(cache) == 3
