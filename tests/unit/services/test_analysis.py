# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Least privilege and what-if replay (issue 16) on the memory store: hand-made graphs, known answers."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rebac.config import Settings
from rebac.errors import InvalidInputError, SchemaError
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.core import Services
from rebac.services.least_privilege import widening_relations
from rebac.services.overlay import ChangeLineError, OverlayReader, parse_changes
from rebac.services.replaying import Recheck, UnreplayableReason, format_since, parse_since
from rebac.services.what_if import classify
from rebac.store.base import DecisionRecord, DecisionResult, Operation, RelationshipFilter, RelationshipUpdate
from rebac.store.memory import MemoryTupleStore

SCHEMA = """
definition user {}

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition team {
    relation member: user | agent
}

definition doc {
    relation viewer: user | agent | team#member
    relation editor: user | agent
    relation banned: user | agent
    permission edit = editor
    permission view = (viewer + editor) - banned
}
"""

TRUNCATED = {"truncated": True, "bytes": 99999}
"""What the recorder keeps of a caveat context too large to log."""

RELS = [
    "agent:planner#principal@user:alice",
    "agent:search#principal@agent:planner",
    "doc:1#viewer@user:alice",
    "doc:2#viewer@user:alice",
    "doc:3#editor@user:alice",
    "doc:1#viewer@agent:planner",
    "doc:2#viewer@agent:planner",
    "doc:3#editor@agent:planner",
    "team:eng#member@agent:planner",
    "doc:4#viewer@team:eng#member",
    "doc:2#viewer@agent:search",
    "doc:1#banned@agent:planner",
]


async def world(rels=RELS):
    store = MemoryTupleStore(quantization_seconds=0)
    services = Services(store, Settings(), schema_refresh_seconds=0)
    services.start()
    await services.schemas.write(SCHEMA, author="test")
    await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in rels])
    return store, services


async def decide(services, text: str, *, context=None) -> bool:
    resource, _, rest = text.partition("#")
    permission, _, subject = rest.partition("@")
    current = await services.engines.current()
    revision = await services.checks.revision(current)
    check = (parse_object(resource), permission, parse_subject(subject))
    decision = await services.checks.decide(current, None, "check", revision, check, context=context)
    return bool(decision.result.allowed)


async def flush(services) -> None:
    assert services.decisions.recorder is not None
    await services.decisions.recorder.flush()


def test_parse_changes_and_positions() -> None:
    changes = parse_changes(
        "// c\n\ntouch doc:1#viewer@user:a\n  delete doc:2#viewer@user:b\ndoc:3#viewer@user:c\n"
    )
    assert [(c.operation, str(c.relationship), c.line) for c in changes] == [
        (Operation.TOUCH, "doc:1#viewer@user:a", 3),
        (Operation.DELETE, "doc:2#viewer@user:b", 4),
        (Operation.TOUCH, "doc:3#viewer@user:c", 5),
    ]
    with pytest.raises(ChangeLineError) as caught:
        parse_changes("doc:1#viewer@user:a\n  touch doc:1#viewer@@user:b\n", source="c.txt")
    assert (caught.value.line, caught.value.column) == (2, 22)
    assert str(caught.value.message).startswith("c.txt:2:22: ")
    with pytest.raises(ChangeLineError) as caught:
        parse_changes("delete\n")
    assert (caught.value.line, caught.value.column) == (1, 7)


def test_classify_fails_closed() -> None:
    allowed, denied = Recheck(DecisionResult.ALLOWED), Recheck(DecisionResult.DENIED)
    conditional = Recheck(DecisionResult.CONDITIONAL, frozenset({"ip"}))
    assert classify(DecisionResult.ALLOWED, allowed) is None
    assert classify(DecisionResult.ALLOWED, denied) is DecisionResult.DENIED
    assert classify(DecisionResult.DENIED, allowed) is DecisionResult.ALLOWED
    assert classify(DecisionResult.ERROR, denied) is None
    assert classify(DecisionResult.ERROR, allowed) is DecisionResult.ALLOWED
    missing = classify(DecisionResult.ALLOWED, conditional)
    assert not isinstance(missing, DecisionResult)
    assert missing is not None
    assert missing.reason is UnreplayableReason.CONTEXT_MISSING
    assert classify(DecisionResult.CONDITIONAL, conditional) is None


async def test_overlay_applies_changes_in_key_order_with_limits() -> None:
    store, services = await world()
    revision = await store.head_revision()
    overlay = OverlayReader(
        store,
        revision,
        [
            (Operation.DELETE, parse_relationship("doc:2#viewer@agent:planner")),
            (Operation.TOUCH, parse_relationship("doc:2#viewer@agent:zed")),
            (Operation.TOUCH, parse_relationship("doc:2#viewer@agent:aaa")),
        ],
    )
    flt = RelationshipFilter(resource_type="doc", resource_ids=("2",), relation="viewer")
    every = [str(r) async for r in overlay.query(flt, revision=revision)]
    assert every == [
        "doc:2#viewer@agent:aaa",
        "doc:2#viewer@agent:search",
        "doc:2#viewer@agent:zed",
        "doc:2#viewer@user:alice",
    ]
    paged: list[str] = []
    after = None
    while True:
        page = [r async for r in overlay.query(flt, revision=revision, limit=1, after=after)]
        if not page:
            break
        paged.append(str(page[0]))
        after = page[0]
    assert paged == every
    live = [str(r) async for r in store.query(flt, revision=revision)]
    assert "doc:2#viewer@agent:planner" in live
    await services.aclose()


async def test_what_if_reports_flips_and_unreplayable() -> None:
    _, services = await world()
    assert await decide(services, "doc:2#view@agent:planner")
    assert await decide(services, "doc:3#edit@agent:planner")
    assert not await decide(services, "doc:5#view@agent:planner")
    assert await decide(services, "doc:2#view@agent:planner")
    await flush(services)
    current = await services.engines.current()
    new_schema = SCHEMA.replace("permission edit = editor\n", "")
    report = await services.what_if.replay(
        current,
        schema_text=new_schema,
        changes_text=(
            "delete doc:2#viewer@agent:planner\n"
            "touch doc:5#viewer@agent:planner\n"
            "// planner acts for alice: both need the grant\n"
            "doc:5#viewer@user:alice\n"
        ),
        since=timedelta(hours=1),
    )
    assert report.decisions == 4
    assert report.unique == 3
    flips = sorted((f.resource, f.permission, f.old.value, f.new.value, f.kind) for f in report.flips)
    assert flips == [
        ("doc:2", "view", "allowed", "denied", "revoked"),
        ("doc:2", "view", "allowed", "denied", "revoked"),
        ("doc:5", "view", "denied", "allowed", "granted"),
    ]
    assert [(u.resource, u.reason) for u in report.unreplayable] == [
        ("doc:3", UnreplayableReason.NOT_IN_SCHEMA)
    ]
    assert report.subjects_affected == ("agent:planner",)
    assert report.unchanged == 0
    assert (report.revoked, report.granted) == (2, 1)
    await services.aclose()


async def test_what_if_refuses_bad_input() -> None:
    _, services = await world()
    current = await services.engines.current()
    with pytest.raises(InvalidInputError):
        await services.what_if.replay(current, schema_text=None, changes_text=None, since=timedelta(hours=1))
    with pytest.raises(SchemaError):
        await services.what_if.replay(
            current, schema_text="definition {", changes_text=None, since=timedelta(1)
        )
    with pytest.raises(ChangeLineError) as caught:
        await services.what_if.replay(
            current, schema_text=None, changes_text="\ntouch doc:1#nope@user:a\n", since=timedelta(1)
        )
    assert caught.value.line == 2
    with pytest.raises(InvalidInputError):
        await services.what_if.replay(current, schema_text=SCHEMA, changes_text=None, since=timedelta(0))
    await services.aclose()


async def test_least_privilege_counts_and_safe_removals() -> None:
    _, services = await world()
    assert await decide(services, "doc:2#view@agent:planner")
    assert await decide(services, "doc:2#view@agent:search")
    await flush(services)
    current = await services.engines.current()
    report = await services.least_privilege.report(
        current, parse_subject("agent:planner"), timedelta(days=30)
    )
    # planner raw: doc:2 view, doc:3 edit and view, doc:4 view (doc:1: banned); alice caps doc:4.
    held = sorted((str(h.resource), h.permission) for h in report.unused)
    assert (report.held, report.held_raw) == (3, 4)
    assert report.used == 1
    assert held == [("doc:3", "edit"), ("doc:3", "view")]
    assert report.message == "agent:planner holds 3 permissions, used 1 in the last 30 days"
    assert [str(d) for d in report.delegates] == ["agent:search"]
    removable = sorted(str(r) for r in report.removable)
    # doc:2 is used by planner and by search (capped by planner): its grant stays; banned never goes
    # (it carries no reach, and removing it would widen it); doc:1's viewer grant carries nothing used.
    assert removable == [
        "doc:1#viewer@agent:planner",
        "doc:3#editor@agent:planner",
        "team:eng#member@agent:planner",
    ]
    await services.aclose()
    # The proof: in a copy without the removable grants, every used permission is still allowed.
    _, copy = await world([r for r in RELS if r not in removable])
    assert await decide(copy, "doc:2#view@agent:planner")
    assert await decide(copy, "doc:2#view@agent:search")
    assert not await decide(copy, "doc:3#edit@agent:planner")
    await copy.aclose()


def test_since_round_trips_and_refuses_junk() -> None:
    assert parse_since("30d") == timedelta(days=30)
    assert parse_since("24h") == timedelta(hours=24)
    assert parse_since("2w") == timedelta(weeks=2)
    assert [format_since(parse_since(t)) for t in ("30d", "36h", "45s", "90m", "2w")] == [
        "30d",
        "36h",
        "45s",
        "90m",
        "2w",
    ]
    for junk in ("", "0d", "-1d", "1y", "d", "1.5h", "30 days"):
        with pytest.raises(InvalidInputError):
            parse_since(junk)


def test_widening_relations_cover_subtracted_sides_and_their_feeders() -> None:
    schema = compile_schema(SCHEMA)
    widening = widening_relations(schema)
    assert ("doc", "banned") in widening
    assert ("doc", "viewer") not in widening
    assert ("team", "member") not in widening  # it feeds viewer only, never banned
    fed = compile_schema(
        SCHEMA.replace("relation banned: user | agent", "relation banned: user | team#member")
    )
    assert ("team", "member") in widening_relations(fed)  # shrinking a team can shrink banned


async def test_least_privilege_respects_the_window() -> None:
    store, services = await world()
    assert await decide(services, "doc:2#view@agent:planner")
    await flush(services)
    old = DecisionRecord(
        decision_id=str(uuid.uuid4()),
        decided_at=datetime.now(UTC) - timedelta(days=40),
        source="check",
        caller=None,
        subject="agent:planner",
        permission="edit",
        resource="doc:3",
        result=DecisionResult.ALLOWED,
        reason="granted",
    )
    await store.append_decisions([old])
    current = await services.engines.current()
    planner = parse_subject("agent:planner")
    recent = await services.least_privilege.report(current, planner, timedelta(days=30))
    assert [(u.resource, u.permission) for u in recent.used_permissions] == [("doc:2", "view")]
    assert "doc:3#editor@agent:planner" in {str(r) for r in recent.removable}  # its use is too old
    wide = await services.least_privilege.report(current, planner, timedelta(days=60))
    assert wide.used == 2
    assert "doc:3#editor@agent:planner" not in {str(r) for r in wide.removable}
    blind = replace(old, decision_id=str(uuid.uuid4()), decided_at=datetime.now(UTC), context=TRUNCATED)
    await store.append_decisions([blind])
    unproven = await services.least_privilege.report(current, planner, timedelta(days=30))
    assert unproven.removable == ()
    assert unproven.truncated
    assert unproven.truncated_reason == "1 allowed decisions cannot be checked again: no grant is suggested"
    later = await services.least_privilege.report(
        current, planner, timedelta(days=30), now=datetime.now(UTC) + timedelta(days=31)
    )
    assert later.used == 0
    await services.aclose()


async def test_what_if_lists_what_it_cannot_replay() -> None:
    store, services = await world()
    assert await decide(services, "doc:2#view@user:alice")
    await flush(services)
    truncated = DecisionRecord(
        decision_id=str(uuid.uuid4()),
        decided_at=datetime.now(UTC) - timedelta(minutes=1),
        source="check",
        caller=None,
        subject="user:alice",
        permission="view",
        resource="doc:1",
        result=DecisionResult.ALLOWED,
        reason="granted",
        context=TRUNCATED,
    )
    step = replace(truncated, decision_id=str(uuid.uuid4()), source="access_request.approved", context=None)
    await store.append_decisions([truncated, step])
    current = await services.engines.current()
    caveated = SCHEMA.replace(
        "definition user {}", "definition user {}\n\ncaveat ok(flag bool) { flag }"
    ).replace(
        "relation viewer: user | agent | team#member",
        "relation viewer: user | agent | team#member | user with ok",
    )
    report = await services.what_if.replay(
        current,
        schema_text=caveated,
        changes_text="touch doc:2#viewer@user:alice[ok]\n",
        since=timedelta(hours=1),
    )
    reasons = sorted((u.resource, u.reason.value) for u in report.unreplayable)
    assert reasons == [("doc:1", "context_truncated"), ("doc:2", "context_missing")]
    assert "flag" in next(u.message for u in report.unreplayable if u.resource == "doc:2")
    assert report.flips == ()
    assert (report.decisions, report.unchanged, report.skipped) == (2, 0, 1)  # a request step: no check
    await services.aclose()
