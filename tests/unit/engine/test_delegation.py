# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Delegation (``acts_for``, DESIGN §4): an agent may do only what every principal up its chain may.

Named scenarios on the memory store, a hypothesis property (a delegated check equals the
conjunction of the plain checks of every identity up every chain, computed independently with
networkx), and a small Postgres variant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import pytest
from engine_helpers import Clock, make_engine
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from rebac.config import EngineSettings
from rebac.engine import CheckItem, Engine, HopReason, Permissionship
from rebac.engine.model import reachability_for
from rebac.errors import (
    DelegationError,
    InvalidInputError,
    InvalidTokenError,
    LimitExceededError,
    SchemaError,
)
from rebac.refs import SubjectRef, parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import run_file
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate
from rebac.store.memory import MemoryTupleStore

YES = Permissionship.HAS_PERMISSION
NO = Permissionship.NO_PERMISSION
MAYBE = Permissionship.CONDITIONAL
ROOT = Path(__file__).resolve().parents[3]

SCHEMA = """
use expiration

definition user {}

caveat within(amount int, max_amount int) { amount < max_amount }

definition agent {
    relation principal: user | agent | user with expiration | agent with expiration
    acts_for principal
}

definition team {
    relation member: user | agent | team#member
}

definition doc {
    relation viewer: user | agent | agent:* | team#member | agent with expiration |
        user with within | agent with within
    relation banned: user | agent
    permission view = viewer - banned
}
"""

CHAIN = [
    # alice -> planner -> search -> fetcher (3 hops from the sub-sub-agent to the human)
    "agent:planner#principal@user:alice",
    "agent:search#principal@agent:planner",
    "agent:fetcher#principal@agent:search",
    "agent:bobbot#principal@user:bob",
]


def s(text: str) -> SubjectRef:
    return parse_subject(text)


async def check(engine: Engine, text: str, **kwargs):
    left, subject = text.split("@")
    resource, permission = left.split("#")
    return await engine.check(parse_object(resource), permission, parse_subject(subject), **kwargs)


def reasons(result) -> list[tuple[str, int, str]]:
    return [(str(h.subject), h.depth, h.reason.value) for h in result.delegation]


# --- scenarios --------------------------------------------------------------------------------------


async def test_three_hop_chain_denied_at_the_root_hop_that_lacks_the_grant():
    rels = [*CHAIN, "doc:launch#viewer@agent:fetcher", "doc:launch#viewer@agent:search"]
    rels += ["doc:launch#viewer@agent:planner"]
    engine, _ = await make_engine(SCHEMA, rels)
    result = await check(engine, "doc:launch#view@agent:fetcher")
    assert result.permissionship is NO
    assert reasons(result) == [
        ("agent:fetcher", 0, "granted"),
        ("agent:search", 1, "granted"),
        ("agent:planner", 2, "granted"),
        ("user:alice", 3, "denied"),
    ]
    assert result.failed_hop is not None
    assert result.failed_hop.subject == s("user:alice")
    assert result.failed_hop.principal_of == (s("agent:planner"),)
    raw = await check(engine, "doc:launch#view@agent:fetcher", delegation=False)
    assert raw.permissionship is YES
    assert raw.delegation == ()


async def test_three_hop_chain_allowed_when_every_link_is():
    rels = [
        *CHAIN,
        *(f"doc:d#viewer@{x}" for x in ("agent:fetcher", "agent:search", "agent:planner", "user:alice")),
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    result = await check(engine, "doc:d#view@agent:fetcher")
    assert result.permissionship is YES
    assert [h.reason for h in result.delegation] == [HopReason.GRANTED] * 4
    assert result.failed_hop is None
    # the middle link loses the grant: denied, and that hop is named
    engine, _ = await make_engine(SCHEMA, [*rels, "doc:d#banned@agent:search"])
    result = await check(engine, "doc:d#view@agent:fetcher")
    assert result.permissionship is NO
    assert result.failed_hop is not None
    assert result.failed_hop.subject == s("agent:search")


async def test_an_orphan_agent_is_denied_even_with_a_direct_grant():
    engine, _ = await make_engine(SCHEMA, ["doc:d#viewer@agent:orphan"])
    result = await check(engine, "doc:d#view@agent:orphan")
    assert result.permissionship is NO
    assert reasons(result) == [("agent:orphan", 0, "orphan")]
    assert result.delegation[0].raw is YES
    assert (await check(engine, "doc:d#view@agent:orphan", delegation=False)).permissionship is YES


async def test_a_sub_agent_of_an_orphan_is_denied():
    engine, _ = await make_engine(
        SCHEMA,
        ["agent:child#principal@agent:orphan", "doc:d#viewer@agent:child", "doc:d#viewer@agent:orphan"],
    )
    result = await check(engine, "doc:d#view@agent:child")
    assert result.permissionship is NO
    assert reasons(result) == [("agent:child", 0, "granted"), ("agent:orphan", 1, "orphan")]


async def test_humans_and_subject_sets_are_not_capped():
    rels = [*CHAIN, "team:bots#member@agent:planner", "doc:d#viewer@team:bots#member"]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await check(engine, "doc:d#view@team:bots#member")).permissionship is YES
    assert (await check(engine, "doc:d#view@team:bots#member")).delegation == ()
    assert (await check(engine, "doc:d#view@user:alice")).delegation == ()


async def test_a_team_of_agents_is_capped_per_agent():
    rels = [*CHAIN, "team:bots#member@agent:planner", "team:bots#member@agent:bobbot"]
    rels += ["doc:d#viewer@team:bots#member", "doc:d#viewer@user:alice"]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await check(engine, "doc:d#view@agent:planner")).permissionship is YES
    bobbot = await check(engine, "doc:d#view@agent:bobbot")
    assert bobbot.permissionship is NO
    assert bobbot.failed_hop is not None
    assert bobbot.failed_hop.subject == s("user:bob")


async def test_a_wildcard_agent_grant_means_within_what_the_principals_may_do():
    rels = [*CHAIN, "doc:hb#viewer@agent:*", "doc:hb#viewer@user:alice"]
    engine, _ = await make_engine(SCHEMA, rels)
    assert (await check(engine, "doc:hb#view@agent:fetcher")).permissionship is YES
    assert (await check(engine, "doc:hb#view@agent:bobbot")).permissionship is NO
    assert (await check(engine, "doc:hb#view@agent:nobody")).permissionship is NO  # an orphan
    assert (await check(engine, "doc:hb#view@agent:bobbot", delegation=False)).permissionship is YES


async def test_via_matching_the_recorded_chain():
    rels = [
        *CHAIN,
        *(f"doc:d#viewer@{x}" for x in ("agent:fetcher", "agent:search", "agent:planner", "user:alice")),
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    full = [s("agent:search"), s("agent:planner"), s("user:alice")]
    assert (await check(engine, "doc:d#view@agent:fetcher", via=full)).permissionship is YES
    # the subject itself may lead the list (as in an `act` chain); a prefix is accepted
    with_subject = [s("agent:fetcher"), *full]
    assert (await check(engine, "doc:d#view@agent:fetcher", via=with_subject)).permissionship is YES
    assert (await check(engine, "doc:d#view@agent:fetcher", via=full[:1])).permissionship is YES


async def test_via_not_matching_the_recorded_chain_is_a_chain_mismatch():
    rels = [
        *CHAIN,
        *(f"doc:d#viewer@{x}" for x in ("agent:fetcher", "agent:search", "agent:planner", "user:alice")),
    ]
    rels += ["doc:d#viewer@user:bob"]
    engine, _ = await make_engine(SCHEMA, rels)
    # a hop skipped: fetcher does not act for planner directly
    skipped = await check(engine, "doc:d#view@agent:fetcher", via=[s("agent:planner"), s("user:alice")])
    assert skipped.permissionship is NO
    assert skipped.failed_hop is not None
    assert (str(skipped.failed_hop.subject), skipped.failed_hop.depth) == ("agent:planner", 1)
    assert skipped.failed_hop.reason is HopReason.CHAIN_MISMATCH
    assert skipped.failed_hop.principal_of == (s("agent:fetcher"),)
    assert skipped.failed_hop.raw is None
    # the right agents but the wrong human at the end (bob may view, but is not the principal)
    wrong = await check(
        engine, "doc:d#view@agent:fetcher", via=[s("agent:search"), s("agent:planner"), s("user:bob")]
    )
    assert wrong.permissionship is NO
    assert wrong.failed_hop is not None
    assert (str(wrong.failed_hop.subject), wrong.failed_hop.reason) == ("user:bob", HopReason.CHAIN_MISMATCH)
    # every real hop is still listed with its own result
    assert ("agent:search", 1, "granted") in reasons(wrong)
    # a human has no principals: any via is a mismatch
    human = await check(engine, "doc:d#view@user:alice", via=[s("user:bob")])
    assert human.permissionship is NO
    assert reasons(human) == [("user:alice", 0, "granted"), ("user:bob", 1, "chain_mismatch")]


async def test_via_input_errors():
    engine, _ = await make_engine(SCHEMA, CHAIN)
    with pytest.raises(InvalidInputError):
        await check(engine, "doc:d#view@agent:planner", via=[s("user:alice")], delegation=False)
    with pytest.raises(InvalidInputError):
        await check(engine, "doc:d#view@agent:planner", via=[s("user:*")])
    with pytest.raises(InvalidInputError):
        await check(engine, "doc:d#view@team:bots#member", via=[s("user:alice")])
    with pytest.raises(LimitExceededError):
        await check(engine, "doc:d#view@agent:planner", via=[s(f"agent:a{i}") for i in range(9)])


def _chain(length: int) -> list[str]:
    """agent:c0 -> agent:c1 -> ... -> agent:c{length-1} -> user:root: ``length`` principal edges."""
    rels = [f"agent:c{i}#principal@agent:c{i + 1}" for i in range(length - 1)]
    return [*rels, f"agent:c{length - 1}#principal@user:root"]


@pytest.mark.parametrize("hops", [1, 3])
async def test_a_chain_at_the_hop_limit_is_evaluated_and_one_longer_is_an_error(hops):
    limited = EngineSettings(max_delegation_hops=hops)
    grants = [f"doc:d#viewer@agent:c{i}" for i in range(hops + 1)] + ["doc:d#viewer@user:root"]
    engine, _ = await make_engine(SCHEMA, [*_chain(hops), *grants], settings=limited)
    assert (await check(engine, "doc:d#view@agent:c0")).permissionship is YES
    engine, _ = await make_engine(SCHEMA, [*_chain(hops + 1), *grants], settings=limited)
    with pytest.raises(DelegationError) as caught:
        await check(engine, "doc:d#view@agent:c0")
    assert caught.value.details["reason"] == "max_delegation_hops_exceeded"
    with pytest.raises(DelegationError):
        await engine.lookup_resources("doc", "view", s("agent:c0"))


async def test_the_default_hop_limit_is_eight():
    grants = [f"doc:d#viewer@agent:c{i}" for i in range(10)] + ["doc:d#viewer@user:root"]
    engine, _ = await make_engine(SCHEMA, [*_chain(8), *grants])
    assert (await check(engine, "doc:d#view@agent:c0")).permissionship is YES
    engine, _ = await make_engine(SCHEMA, [*_chain(9), *grants])
    with pytest.raises(DelegationError):
        await check(engine, "doc:d#view@agent:c0")


async def test_a_long_chain_hidden_behind_a_shortcut_is_still_an_error():
    # a -> b1 -> b2 -> b3 -> user is 4 hops even though a also acts for b3 directly
    rels = ["agent:a#principal@agent:b1", "agent:b1#principal@agent:b2", "agent:b2#principal@agent:b3"]
    rels += ["agent:a#principal@agent:b3", "agent:b3#principal@user:root"]
    engine, _ = await make_engine(SCHEMA, rels, settings=EngineSettings(max_delegation_hops=3))
    with pytest.raises(DelegationError):
        await check(engine, "doc:d#view@agent:a")


async def test_a_principal_cycle_is_denied_and_flagged():
    rels = [
        "agent:a#principal@agent:b",
        "agent:b#principal@agent:a",
        "doc:d#viewer@agent:a",
        "doc:d#viewer@agent:b",
    ]
    engine, _ = await make_engine(SCHEMA, rels)
    result = await check(engine, "doc:d#view@agent:a")
    assert result.permissionship is NO
    assert result.cycle_detected
    assert reasons(result) == [("agent:a", 0, "principal_cycle"), ("agent:b", 1, "principal_cycle")]
    assert (await engine.lookup_resources("doc", "view", s("agent:a"))).items == ()


async def test_a_cycle_further_up_denies_the_agents_below_it():
    rels = ["agent:a#principal@agent:b", "agent:b#principal@agent:c", "agent:c#principal@agent:b"]
    rels += ["agent:c#principal@user:alice", "agent:self#principal@agent:self"]
    rels += [f"doc:d#viewer@{x}" for x in ("agent:a", "agent:b", "agent:c", "user:alice", "agent:self")]
    engine, _ = await make_engine(SCHEMA, rels)
    result = await check(engine, "doc:d#view@agent:a")
    assert result.permissionship is NO
    assert result.cycle_detected
    by_subject = {str(h.subject): h.reason.value for h in result.delegation}
    assert by_subject == {
        "agent:a": "granted",
        "agent:b": "principal_cycle",
        "agent:c": "principal_cycle",
        "user:alice": "granted",
    }
    selfish = await check(engine, "doc:d#view@agent:self")
    assert selfish.permissionship is NO
    assert reasons(selfish) == [("agent:self", 0, "principal_cycle")]


async def test_a_conditional_principal_makes_the_result_conditional():
    rels = [*CHAIN, "doc:d#viewer@agent:planner", 'doc:d#viewer@user:alice[within:{"max_amount":100}]']
    engine, _ = await make_engine(SCHEMA, rels)
    result = await check(engine, "doc:d#view@agent:planner")
    assert result.permissionship is MAYBE
    assert result.missing == {"amount"}
    assert reasons(result) == [("agent:planner", 0, "granted"), ("user:alice", 1, "conditional")]
    assert result.delegation[1].missing == {"amount"}
    assert (await check(engine, "doc:d#view@agent:planner", context={"amount": 5})).permissionship is YES
    assert (await check(engine, "doc:d#view@agent:planner", context={"amount": 500})).permissionship is NO


async def test_the_smallest_limit_along_the_chain_applies():
    rels = [*CHAIN, 'doc:pay#viewer@user:alice[within:{"max_amount":1000}]']
    rels += ['doc:pay#viewer@agent:planner[within:{"max_amount":100}]']
    rels += ['doc:pay#viewer@agent:search[within:{"max_amount":5000}]']
    engine, _ = await make_engine(SCHEMA, rels)
    for amount, expected in ((50, YES), (500, NO), (2000, NO)):
        result = await check(engine, "doc:pay#view@agent:search", context={"amount": amount})
        assert result.permissionship is expected, amount
    failed = (await check(engine, "doc:pay#view@agent:search", context={"amount": 500})).failed_hop
    assert failed is not None
    assert failed.subject == s("agent:planner")


C3_SCHEMA = """
definition user {}
caveat limit_ok(amount int) { amount < 100 }
definition agent {
    relation principal: user | user with limit_ok
    acts_for principal
}
definition doc {
    relation viewer: user | agent
    permission view = viewer
}
"""


def test_a_caveat_on_the_acts_for_relation_is_refused_with_a_position():
    # The example: agent:c3 acts for user:alice (plain; alice may view) and for user:bob
    # (with limit_ok; bob may not). With the caveat allowed, {"amount": 500} switched bob's edge,
    # and his cap, off: view@agent:c3 was false for amount 5 and true for amount 500.
    with pytest.raises(SchemaError) as caught:
        compile_schema(C3_SCHEMA, "c3.zed")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.source, diagnostic.line, diagnostic.column) == ("c3.zed", 6, 14)
    assert "may not carry a caveat" in diagnostic.message


async def test_delegation_stays_monotonic_in_the_caller_context():
    schema = C3_SCHEMA.replace("user | user with limit_ok", "user").replace(
        "relation viewer: user | agent", "relation viewer: user | agent | agent with limit_ok"
    )
    rels = ["agent:c3#principal@user:alice", "agent:c3#principal@user:bob"]
    rels += ["doc:d#viewer@user:alice", "doc:d#viewer@agent:c3[limit_ok]"]
    engine, _ = await make_engine(schema, rels)
    for amount in (5, 500):
        result = await check(engine, "doc:d#view@agent:c3", context={"amount": amount})
        assert result.permissionship is NO, amount  # bob may not view: his cap holds whatever the context


def test_expiration_on_the_acts_for_relation_is_allowed():
    compile_schema(SCHEMA)  # principal: ... | user with expiration | agent with expiration


async def test_an_expired_principal_edge_is_no_edge():
    clock = Clock(datetime(2030, 1, 1, tzinfo=UTC))
    rels = ["agent:t#principal@user:alice[expiration:2030-06-01T00:00:00Z]"]
    rels += ["doc:d#viewer@agent:t", "doc:d#viewer@user:alice"]
    engine, _ = await make_engine(SCHEMA, rels, clock=clock)
    live = await check(engine, "doc:d#view@agent:t")
    assert live.permissionship is YES
    assert live.expires_at == datetime(2030, 6, 1, tzinfo=UTC)
    assert live.delegation[1].expires_at == datetime(2030, 6, 1, tzinfo=UTC)
    clock.now = datetime(2030, 7, 1, tzinfo=UTC)
    expired = await check(engine, "doc:d#view@agent:t")
    assert expired.permissionship is NO
    assert reasons(expired) == [("agent:t", 0, "orphan")]
    # and a via naming the expired edge no longer matches
    mismatch = await check(engine, "doc:d#view@agent:t", via=[s("user:alice")])
    assert mismatch.failed_hop is not None
    assert mismatch.failed_hop.reason is HopReason.ORPHAN
    assert ("user:alice", 1, "chain_mismatch") in reasons(mismatch)


async def test_an_expiring_agent_grant():
    clock = Clock(datetime(2030, 1, 1, tzinfo=UTC))
    rels = [*CHAIN, "doc:d#viewer@user:alice", "doc:d#viewer@agent:planner[expiration:2030-03-01T00:00:00Z]"]
    engine, _ = await make_engine(SCHEMA, rels, clock=clock)
    granted = await check(engine, "doc:d#view@agent:planner")
    assert granted.permissionship is YES
    assert granted.expires_at == datetime(2030, 3, 1, tzinfo=UTC)
    clock.now = datetime(2030, 3, 2, tzinfo=UTC)
    assert (await check(engine, "doc:d#view@agent:planner")).permissionship is NO


async def test_check_bulk_applies_delegation_and_via_per_item():
    rels = [*CHAIN, "doc:d#viewer@agent:planner", "doc:d#viewer@user:alice", "doc:x#viewer@agent:planner"]
    engine, _ = await make_engine(SCHEMA, rels)
    d, x = parse_object("doc:d"), parse_object("doc:x")
    items = [
        CheckItem(d, "view", s("agent:planner")),
        CheckItem(x, "view", s("agent:planner")),
        CheckItem(d, "view", s("agent:planner"), via=[s("user:alice")]),
        CheckItem(d, "view", s("agent:planner"), via=[s("user:bob")]),
    ]
    got = await engine.check_bulk(items)
    assert [getattr(r, "permissionship", r) for r in got] == [YES, NO, YES, NO]
    raw = await engine.check_bulk(items[:2], delegation=False)
    assert [getattr(r, "permissionship", r) for r in raw] == [YES, YES]


async def test_lookup_resources_returns_the_effective_reach_with_correct_pages():
    rels = [*CHAIN, "doc:excluded#banned@user:alice"]
    for i in range(12):
        rels.append(f"doc:d{i:02d}#viewer@agent:search")
        if i % 3:
            rels.append(f"doc:d{i:02d}#viewer@agent:planner")
        if i % 2:
            rels.append(f"doc:d{i:02d}#viewer@user:alice")
    engine, _ = await make_engine(SCHEMA, rels)
    search = s("agent:search")
    effective = [f"d{i:02d}" for i in range(12) if i % 3 and i % 2]
    page = await engine.lookup_resources("doc", "view", search)
    assert [i.resource_id for i in page.items] == effective
    assert page.cursor is None
    raw = await engine.lookup_resources("doc", "view", search, delegation=False)
    assert len(raw.items) == 12
    for rid in (f"d{i:02d}" for i in range(12)):
        allowed = (await check(engine, f"doc:{rid}#view@agent:search")).permissionship is YES
        assert allowed == (rid in effective)
    for size in (1, 2, 3):
        seen, cursor = [], None
        while True:
            page = await engine.lookup_resources("doc", "view", search, limit=size, cursor=cursor)
            assert 0 < len(page.items) <= size
            seen += [i.resource_id for i in page.items]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == effective
    first = await engine.lookup_resources("doc", "view", search, limit=1)
    assert first.cursor is not None
    with pytest.raises(InvalidTokenError):  # a delegated cursor is not a raw one, and vice versa
        await engine.lookup_resources("doc", "view", search, limit=1, cursor=first.cursor, delegation=False)
    raw_first = await engine.lookup_resources("doc", "view", search, limit=1, delegation=False)
    with pytest.raises(InvalidTokenError):
        await engine.lookup_resources("doc", "view", search, limit=1, cursor=raw_first.cursor)


async def test_lookup_resources_keeps_conditional_items():
    rels = [*CHAIN, "doc:d#viewer@agent:planner", 'doc:d#viewer@user:alice[within:{"max_amount":10}]']
    engine, _ = await make_engine(SCHEMA, rels)
    page = await engine.lookup_resources("doc", "view", s("agent:planner"))
    assert [(i.resource_id, i.permissionship, set(i.missing)) for i in page.items] == [
        ("d", MAYBE, {"amount"})
    ]


async def test_lookup_subjects_lists_only_agents_whose_delegated_check_holds():
    rels = [*CHAIN, "agent:orphan#principal@agent:ghost"]
    rels += ["doc:hb#viewer@agent:*", "doc:hb#viewer@user:alice", "doc:hb#banned@agent:search"]
    rels += ["doc:hb#viewer@agent:lonely"]
    engine, _ = await make_engine(SCHEMA, rels)
    hb = parse_object("doc:hb")
    page = await engine.lookup_subjects(hb, "view", "agent")
    assert [str(i.subject) for i in page.items] == ["agent:planner"]
    raw = await engine.lookup_subjects(hb, "view", "agent", delegation=False)
    assert "agent:*" in [str(i.subject) for i in raw.items]
    users = await engine.lookup_subjects(hb, "view", "user")
    assert [str(i.subject) for i in users.items] == ["user:alice"]


async def test_lookup_subjects_pages():
    rels = ["doc:d#viewer@user:alice", "doc:d#viewer@agent:*", "doc:d#banned@agent:a03"]
    rels += [f"agent:a{i:02d}#principal@user:{'alice' if i % 2 else 'bob'}" for i in range(10)]
    engine, _ = await make_engine(SCHEMA, rels)
    d = parse_object("doc:d")
    expected = [f"agent:a{i:02d}" for i in range(10) if i % 2 and i != 3]
    assert [str(i.subject) for i in (await engine.lookup_subjects(d, "view", "agent")).items] == expected
    for size in (1, 2):
        seen, cursor = [], None
        while True:
            page = await engine.lookup_subjects(d, "view", "agent", limit=size, cursor=cursor)
            seen += [str(i.subject) for i in page.items]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == expected


@pytest.mark.parametrize("name", ["agents.yaml", "examples/mcp_gateway.yaml"])
async def test_reference_validation_files_pass_and_need_delegation(name):
    vf = load_validation_file(ROOT / "schema" / name)
    report = await run_file(vf, MemoryTupleStore(quantization_seconds=0))
    assert report.passed, [f.render() for f in report.failures]
    # at least one assertFalse holds only because of delegation
    schema = compile_schema(vf.schema_text, vf.schema_source)
    store = MemoryTupleStore(quantization_seconds=0)
    await store.write([RelationshipUpdate(Operation.TOUCH, r.relationship) for r in vf.relationships])
    engine = Engine.build(store, schema, reachability=reachability_for(schema))
    capped = [
        a
        for a in vf.assertions
        if a.kind == "assertFalse"
        and (
            await engine.check(a.resource, a.permission, a.subject, context=a.context, delegation=False)
        ).permissionship
        is not NO
    ]
    assert capped


# --- property: delegated == conjunction of plain checks up every chain -----------------------------

PROPERTY_SCHEMA = """
definition user {}
definition agent {
    relation principal: user | agent
    acts_for principal
}
definition doc {
    relation parent: doc
    relation viewer: user | agent | agent:*
    relation banned: user | agent
    permission view = (viewer + parent->view) - banned
}
"""
USERS = [f"user:u{i}" for i in range(3)]
AGENTS = [f"agent:a{i}" for i in range(6)]
DOCS = [f"doc:d{i}" for i in range(3)]


@st.composite
def forests(draw):
    """Random principal graphs (mostly forests, sometimes cycles) and grants dense enough to allow."""
    edges = set()
    for agent in AGENTS:
        count = draw(st.integers(min_value=0, max_value=2))
        for _ in range(count):
            target = draw(st.sampled_from(USERS) | st.sampled_from(AGENTS))
            edges.add((agent, target))
    rels = [f"{a}#principal@{p}" for a, p in sorted(edges)]
    for doc in DOCS:
        viewers = draw(st.sets(st.sampled_from(USERS + AGENTS), max_size=len(USERS + AGENTS)))
        banned = draw(st.sets(st.sampled_from(USERS + AGENTS), max_size=1))
        rels += [f"{doc}#viewer@{x}" for x in sorted(viewers)]
        rels += [f"{doc}#banned@{x}" for x in sorted(banned)]
        if draw(st.booleans()):
            rels.append(f"{doc}#viewer@agent:*")
    parents = draw(st.lists(st.tuples(st.sampled_from(DOCS), st.sampled_from(DOCS)), unique=True, max_size=2))
    rels += [f"{d}#parent@{p}" for d, p in parents if d != p]
    max_hops = draw(st.integers(min_value=1, max_value=4))
    return rels, max_hops


def draw_via(data: st.DataObject, graph: nx.DiGraph, agent: str) -> list[str]:
    """No via, a walk along real principal edges (perhaps with one entry replaced), or noise."""
    mode = data.draw(st.sampled_from(["none", "real", "corrupted", "noise"]))
    if mode == "none":
        return []
    if mode == "noise":
        return data.draw(st.lists(st.sampled_from(AGENTS + USERS), min_size=1, max_size=3))
    walk: list[str] = [agent] if data.draw(st.booleans()) else []
    node = agent
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        successors = sorted(graph.successors(node))
        if not successors:
            break
        node = data.draw(st.sampled_from(successors))
        walk.append(node)
    if mode == "corrupted" and walk:
        walk[data.draw(st.integers(min_value=0, max_value=len(walk) - 1))] = data.draw(
            st.sampled_from(AGENTS + USERS)
        )
    return walk


def naive_views(rels: list[str]) -> dict[str, set[str]]:
    """``view`` of PROPERTY_SCHEMA computed from the relationship texts alone (not the engine).

    ``view = (viewer + parent->view) - banned``, with ``agent:*`` granting every agent: the least
    fixpoint over the (possibly cyclic) parent edges; ``banned`` is a base relation, so the
    iteration only grows and ends.
    """
    viewers: dict[str, set[str]] = {d: set() for d in DOCS}
    banned: dict[str, set[str]] = {d: set() for d in DOCS}
    parents: dict[str, set[str]] = {d: set() for d in DOCS}
    for text in rels:
        left, subject = text.split("@")
        resource, relation = left.split("#")
        if relation == "viewer":
            viewers[resource] |= set(AGENTS) if subject == "agent:*" else {subject}
        elif relation == "banned":
            banned[resource].add(subject)
        elif relation == "parent":
            parents[resource].add(subject)
    view: dict[str, set[str]] = {d: set() for d in DOCS}
    changed = True
    while changed:
        changed = False
        for doc in DOCS:
            inherited = set().union(*(view[p] for p in parents[doc]))
            new = (viewers[doc] | inherited) - banned[doc]
            if new != view[doc]:
                view[doc], changed = new, True
    return view


def expected_delegated(graph: nx.DiGraph, agent: str, raw: dict[str, Permissionship], max_hops: int) -> str:
    """The rule, computed from scratch: 'error' | 'yes' | 'no'."""
    reach = nx.descendants(graph, agent) | {agent}
    sub = graph.subgraph(reach)
    if max(nx.single_source_shortest_path_length(sub, agent).values()) > max_hops:
        return "error"
    if not nx.is_directed_acyclic_graph(sub):
        return "no"
    if nx.dag_longest_path_length(sub) > max_hops:
        return "error"
    orphans = [n for n in reach if n.startswith("agent:") and sub.out_degree(n) == 0]
    return "yes" if not orphans and all(raw[n] is YES for n in reach) else "no"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=forests(), data=st.data())
async def test_delegated_check_equals_the_conjunction_of_plain_checks_up_every_chain(world, data):
    rels, max_hops = world
    note(f"max_hops={max_hops}\n" + "\n".join(rels))
    engine, _ = await make_engine(
        PROPERTY_SCHEMA, rels, settings=EngineSettings(max_delegation_hops=max_hops)
    )
    graph = nx.DiGraph()
    graph.add_nodes_from(USERS + AGENTS)
    graph.add_edges_from(tuple(r.split("#principal@")) for r in rels if "#principal@" in r)
    fresh = Consistency(ConsistencyMode.FULLY_CONSISTENT)
    views = naive_views(rels)
    for doc in DOCS:
        resource = parse_object(doc)
        # The plain (undelegated) answers come from the naive evaluator, not the engine under test;
        # the engine's own plain check must agree with them.
        raw = {x: YES if x in views[doc] else NO for x in USERS + AGENTS}
        for x in USERS + AGENTS:
            plain = await engine.check(resource, "view", s(x), consistency=fresh, delegation=False)
            assert plain.permissionship is raw[x], (doc, x)
        allowed_agents = set()
        for agent in AGENTS:
            expected = expected_delegated(graph, agent, raw, max_hops)
            event(f"delegated: {expected}")
            try:
                result = await engine.check(resource, "view", s(agent), consistency=fresh)
                got = "yes" if result.permissionship is YES else "no"
            except DelegationError:
                got = "error"
            assert got == expected, (doc, agent)
            if got == "yes":
                allowed_agents.add(agent)
                assert result.failed_hop is None
            elif got == "no":
                assert result.failed_hop is not None or result.cycle_detected
            # via: additionally, every claimed hop must be a recorded principal edge
            via = draw_via(data, graph, agent)
            claimed = via[1:] if via[:1] == [agent] else via
            follows = all(graph.has_edge(a, b) for a, b in zip([agent, *claimed], claimed, strict=False))
            want_via = expected if expected == "error" or follows else "no"
            if len(claimed) > max_hops:
                want_via = "too long"
            try:
                with_via = await engine.check(
                    resource, "view", s(agent), consistency=fresh, via=[s(v) for v in via]
                )
                got_via = "yes" if with_via.permissionship is YES else "no"
            except DelegationError:
                got_via = "error"
            except LimitExceededError:
                got_via = "too long"
            assert got_via == want_via, (doc, agent, via)
            if via:
                event(f"via: {want_via}")
            if expected != "error":
                page = await engine.lookup_resources("doc", "view", s(agent), consistency=fresh)
                assert (doc.split(":")[1] in {i.resource_id for i in page.items}) == (expected == "yes")
        if all(expected_delegated(graph, a, raw, max_hops) != "error" for a in AGENTS):
            subjects = await engine.lookup_subjects(resource, "view", "agent", consistency=fresh)
            assert {str(i.subject) for i in subjects.items} == allowed_agents, doc


# --- the same scenarios on PostgreSQL ---------------------------------------------------------------


@pytest.mark.integration
async def test_delegation_on_postgres(store_factory):
    rels = [*CHAIN, "agent:loop1#principal@agent:loop2", "agent:loop2#principal@agent:loop1"]
    rels += ["agent:gone#principal@user:alice[expiration:2020-01-01T00:00:00Z]"]
    rels += ["agent:kept#principal@user:alice[expiration:2999-01-01T00:00:00Z]"]
    rels += [f"doc:d#viewer@{x}" for x in ("agent:fetcher", "agent:search", "agent:planner", "agent:loop1")]
    rels += ["doc:d#viewer@agent:gone", "doc:d#viewer@agent:kept", "doc:d#viewer@agent:bobbot"]
    rels += ["doc:d#viewer@user:alice", "doc:e#viewer@agent:fetcher"]
    async with store_factory("postgres", quantization_seconds=0) as store:
        await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in rels])
        schema = compile_schema(SCHEMA)
        engine = Engine.build(store, schema, reachability=reachability_for(schema))
        assert (await check(engine, "doc:d#view@agent:fetcher")).permissionship is YES
        denied = await check(engine, "doc:e#view@agent:fetcher")
        assert denied.failed_hop is not None
        assert denied.failed_hop.subject == s("agent:search")
        mismatch = await check(engine, "doc:d#view@agent:fetcher", via=[s("agent:planner")])
        assert mismatch.failed_hop is not None
        assert mismatch.failed_hop.reason is HopReason.CHAIN_MISMATCH
        loop = await check(engine, "doc:d#view@agent:loop1")
        assert (loop.permissionship, loop.cycle_detected) == (NO, True)
        assert reasons(await check(engine, "doc:d#view@agent:gone")) == [("agent:gone", 0, "orphan")]
        assert (await check(engine, "doc:d#view@agent:kept")).permissionship is YES
        assert (await check(engine, "doc:d#view@agent:bobbot")).permissionship is NO
        page = await engine.lookup_resources("doc", "view", s("agent:fetcher"), limit=1)
        assert [i.resource_id for i in page.items] == ["d"]
        assert page.cursor is None
        subjects = await engine.lookup_subjects(parse_object("doc:d"), "view", "agent")
        assert [str(i.subject) for i in subjects.items] == [
            "agent:fetcher",
            "agent:kept",
            "agent:planner",
            "agent:search",
        ]
