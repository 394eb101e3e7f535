# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The non-human identity inventory and reviews (DESIGN §7) on the memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import Clock, make_engine

from rebac.config import EngineSettings
from rebac.errors import InvalidInputError, InvalidTokenError
from rebac.refs import SubjectRef, parse_relationship, parse_subject
from rebac.services.identities import Identity, IdentityFlag, decision_lookup, list_identities
from rebac.services.reviews import fingerprint, record_review
from rebac.store.base import DecisionRecord, DecisionResult, Operation, RelationshipUpdate
from rebac.store.memory import MemoryTupleStore

SCHEMA = """
use expiration

definition user {}
definition service {}

definition agent {
    relation principal: user | agent | service
    relation owner: user
    acts_for principal
}

definition doc {
    relation viewer: user | agent | service | agent with expiration
    permission view = viewer
}
"""

T0 = datetime(2030, 1, 1, tzinfo=UTC)

RELS = [
    "agent:planner#principal@user:alice",
    "agent:search#principal@agent:planner",
    "agent:fetcher#principal@agent:search",
    "doc:1#viewer@user:alice",
    "doc:1#viewer@agent:planner",
    "doc:1#viewer@agent:search",
    "doc:1#viewer@agent:fetcher",
    "doc:2#viewer@agent:fetcher[expiration:2030-06-01T00:00:00Z]",
    "doc:3#viewer@agent:fetcher[expiration:2030-03-01T00:00:00Z]",
    "doc:1#viewer@agent:lonely",
    "agent:c1#principal@agent:c2",
    "agent:c2#principal@agent:c1",
    "doc:1#viewer@service:backup",
]


class FixedDecisions:
    def __init__(self, seen: dict[str, datetime]) -> None:
        self.seen = seen

    async def last_decision_at(self, subject: SubjectRef) -> datetime | None:
        return self.seen.get(str(subject))


async def setup(clock: Clock | None = None, **settings):
    clock = clock or Clock(T0)
    engine, store = await make_engine(
        SCHEMA, RELS, clock=clock, settings=EngineSettings(non_human_types=("service",), **settings)
    )
    return engine, store, clock


async def everything(engine, store, clock, **kwargs) -> dict[str, Identity]:
    page = await list_identities(engine, store, clock=clock, limit=100, **kwargs)
    assert page.cursor is None
    return {str(identity.subject): identity for identity in page.identities}


async def grant(store: MemoryTupleStore, text: str) -> None:
    await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(text))])


async def test_inventory_lists_agent_types_and_configured_non_human_types() -> None:
    engine, store, clock = await setup()
    found = await everything(engine, store, clock)
    assert sorted(found) == [
        "agent:c1",
        "agent:c2",
        "agent:fetcher",
        "agent:lonely",
        "agent:planner",
        "agent:search",
        "service:backup",
    ]
    assert "user:alice" not in found
    assert not found["service:backup"].delegates
    assert found["service:backup"].chain == (parse_subject("service:backup"),)


async def test_three_hop_chain_owner_creation_expiry_and_blast_size() -> None:
    engine, store, clock = await setup()
    fetcher = (await everything(engine, store, clock))["agent:fetcher"]
    assert [str(s) for s in fetcher.chain] == ["agent:fetcher", "agent:search", "agent:planner", "user:alice"]
    assert [str(s) for s in fetcher.owners] == ["user:alice"]
    assert fetcher.chain_error is None
    assert fetcher.created_revision is not None
    assert fetcher.created_revision.value == 1
    assert fetcher.created_at == T0
    assert fetcher.expires_first == datetime(2030, 3, 1, tzinfo=UTC)
    assert fetcher.expires_last == datetime(2030, 6, 1, tzinfo=UTC)
    assert len(fetcher.grants) == 3
    assert fetcher.blast is not None
    # raw: doc 1, 2, 3 (viewer + view each); effective: only doc:1 (alice sees nothing else)
    assert (fetcher.blast.raw, fetcher.blast.effective) == (6, 2)
    assert not fetcher.blast.truncated
    assert fetcher.flags == {IdentityFlag.NEVER_REVIEWED}
    assert not fetcher.decisions_known
    assert fetcher.last_decision_at is None


async def test_blast_size_truncation_is_reported() -> None:
    engine, store, clock = await setup()
    fetcher = (await everything(engine, store, clock, blast_budget=1))["agent:fetcher"]
    assert fetcher.blast is not None
    assert fetcher.blast.truncated
    assert fetcher.blast.message is not None
    assert fetcher.blast.message.startswith("truncated at 1")


async def test_orphan_and_cycle_are_flagged() -> None:
    engine, store, clock = await setup()
    found = await everything(engine, store, clock)
    lonely = found["agent:lonely"]
    assert IdentityFlag.ORPHAN in lonely.flags
    assert lonely.owners == ()
    for name in ("agent:c1", "agent:c2"):
        assert IdentityFlag.PRINCIPAL_CYCLE in found[name].flags
        assert found[name].chain_error == "principal_cycle"
        assert found[name].owners == ()
    assert IdentityFlag.PRINCIPAL_CYCLE not in found["agent:fetcher"].flags


async def test_chain_longer_than_the_hop_limit_is_flagged_not_raised() -> None:
    engine, store, clock = await setup(max_delegation_hops=2)
    fetcher = (await everything(engine, store, clock))["agent:fetcher"]
    assert IdentityFlag.CHAIN_TOO_LONG in fetcher.flags
    assert fetcher.chain_error == "max_delegation_hops_exceeded"


async def test_review_clears_the_flag_and_a_later_grant_flags_it_again() -> None:
    engine, store, clock = await setup()
    fetcher = parse_subject("agent:fetcher")
    review = await record_review(store, engine.model, fetcher, reviewer="sec-team", note="ok")
    assert review.review_id == 1
    assert review.revision.value == (await store.head_revision()).value
    assert "agent:fetcher#principal@agent:search" in review.grants  # its delegation edge is approved too
    assert "doc:1#viewer@agent:fetcher" in review.grants
    assert review.fingerprint == fingerprint(review.grants)

    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.flags == frozenset()
    assert found.review.last == review
    assert found.review.fingerprint == review.fingerprint
    assert found.review.added_since == ()

    await grant(store, "doc:9#viewer@agent:fetcher")
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.flags == {IdentityFlag.GRANTS_ADDED}
    assert [str(v.relationship) for v in found.review.added_since] == ["doc:9#viewer@agent:fetcher"]
    assert found.review.added_since[0].created.value > review.revision.value
    assert found.review.fingerprint != review.fingerprint

    # A new principal is a change as well.
    await grant(store, "agent:fetcher#principal@user:mallory")
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert [str(v.relationship) for v in found.review.added_since] == [
        "agent:fetcher#principal@user:mallory",
        "doc:9#viewer@agent:fetcher",
    ]

    await record_review(store, engine.model, fetcher, reviewer="sec-team")
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.flags == frozenset()


async def test_removed_grants_are_listed_but_do_not_flag() -> None:
    engine, store, clock = await setup()
    fetcher = parse_subject("agent:fetcher")
    await record_review(store, engine.model, fetcher, reviewer="r")
    await store.write(
        [RelationshipUpdate(Operation.DELETE, parse_relationship("doc:1#viewer@agent:fetcher"))]
    )
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.review.removed_since == ("doc:1#viewer@agent:fetcher",)
    assert found.flags == frozenset()


async def test_unused_for_n_days_uses_the_last_decision_and_the_clock() -> None:
    clock = Clock(T0)
    engine, store, clock = await setup(clock, review_unused_days=30)
    await record_review(store, engine.model, parse_subject("agent:fetcher"), reviewer="r")
    decisions = FixedDecisions({"agent:fetcher": T0 + timedelta(days=1)})

    clock.now = T0 + timedelta(days=20)
    found = await everything(engine, store, clock, decisions=decisions)
    assert found["agent:fetcher"].flags == frozenset()
    assert found["agent:fetcher"].last_decision_at == T0 + timedelta(days=1)
    assert found["agent:fetcher"].decisions_known
    assert IdentityFlag.UNUSED not in found["agent:planner"].flags  # never used, but only 20 days old

    clock.now = T0 + timedelta(days=32)
    found = await everything(engine, store, clock, decisions=decisions)
    assert found["agent:fetcher"].flags == {IdentityFlag.UNUSED}
    assert IdentityFlag.UNUSED in found["agent:planner"].flags


async def test_flagged_only_and_type_filters() -> None:
    engine, store, clock = await setup()
    for name in ("agent:fetcher", "agent:search", "agent:planner", "service:backup"):
        await record_review(
            store, engine.model, parse_subject(name), reviewer="r", non_human_types=("service",)
        )
    flagged = await everything(engine, store, clock, flagged_only=True)
    assert sorted(flagged) == ["agent:c1", "agent:c2", "agent:lonely"]
    services = await everything(engine, store, clock, identity_type="service")
    assert sorted(services) == ["service:backup"]
    with pytest.raises(InvalidInputError):
        await list_identities(engine, store, identity_type="user", clock=clock)
    with pytest.raises(InvalidInputError):
        await list_identities(engine, store, identity_type="nope", clock=clock)


async def test_pages_follow_the_cursor_without_gaps_or_repeats() -> None:
    engine, store, clock = await setup()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await list_identities(engine, store, limit=2, cursor=cursor, clock=clock, blast_budget=None)
        assert len(page.identities) <= 2
        seen.extend(str(identity.subject) for identity in page.identities)
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
        # pinned to the first page's revision: a write in between is not seen
        await grant(store, f"doc:1#viewer@agent:new{pages}")
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 7
    with pytest.raises(InvalidTokenError):
        await list_identities(engine, store, cursor="garbage", clock=clock)
    first = await list_identities(engine, store, limit=1, clock=clock, blast_budget=None)
    assert first.cursor is not None
    with pytest.raises(InvalidTokenError):  # a cursor of another filter
        await list_identities(engine, store, cursor=first.cursor, flagged_only=True, clock=clock)


async def test_review_refuses_non_identities_and_bad_input() -> None:
    engine, store, _ = await setup()
    with pytest.raises(InvalidInputError):
        await record_review(store, engine.model, parse_subject("user:alice"), reviewer="r")
    with pytest.raises(InvalidInputError):
        await record_review(store, engine.model, parse_subject("agent:x#principal"), reviewer="r")
    with pytest.raises(InvalidInputError):
        await record_review(store, engine.model, parse_subject("agent:fetcher"), reviewer="  ")


def test_decision_lookup_degrades_to_none() -> None:
    assert decision_lookup(None) is None


async def test_last_decision_comes_from_the_stores_decision_log() -> None:
    engine, store, clock = await setup()
    decisions = decision_lookup(store.roles.decisions)
    if decisions is None:  # pragma: no cover - the memory store keeps a decision log
        pytest.fail("the memory store should expose its decision log")
    record = DecisionRecord(
        decision_id="0192f0c0-0000-7000-8000-000000000001",
        decided_at=T0 + timedelta(hours=5),
        source="check",
        caller=None,
        subject="agent:fetcher",
        permission="view",
        resource="doc:1",
        result=DecisionResult.ALLOWED,
        reason="viewer",
    )
    await store.append_decisions([record])
    found = await everything(engine, store, clock, decisions=decisions)
    assert found["agent:fetcher"].last_decision_at == T0 + timedelta(hours=5)
    assert found["agent:planner"].last_decision_at is None
    assert found["agent:planner"].decisions_known


async def test_retouching_an_approved_grant_is_not_a_change_but_a_new_expiry_is() -> None:
    engine, store, clock = await setup()
    await record_review(store, engine.model, parse_subject("agent:fetcher"), reviewer="r")
    await grant(store, "doc:1#viewer@agent:fetcher")  # same text, new created revision
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.flags == frozenset()
    await grant(store, "doc:1#viewer@agent:fetcher[expiration:2031-01-01T00:00:00Z]")
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert found.flags == {IdentityFlag.GRANTS_ADDED}
    assert found.review.removed_since == ("doc:1#viewer@agent:fetcher",)


async def test_a_review_at_an_older_revision_flags_grants_created_after_it() -> None:
    engine, store, clock = await setup()
    before = await store.head_revision()
    await grant(store, "doc:8#viewer@agent:fetcher")
    review = await record_review(
        store, engine.model, parse_subject("agent:fetcher"), reviewer="r", revision=before
    )
    assert "doc:8#viewer@agent:fetcher" not in review.grants
    found = (await everything(engine, store, clock))["agent:fetcher"]
    assert [str(v.relationship) for v in found.review.added_since] == ["doc:8#viewer@agent:fetcher"]
