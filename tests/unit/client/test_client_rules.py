"""The client's rules without a server: retries, token order, decisions, request shapes, agent tuples."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rebac.client import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    BadRequest,
    BulkCheck,
    CheckResult,
    ConnectError,
    ConnectionLost,
    Consistency,
    DelegationHop,
    Permissionship,
    Problem,
    Reason,
    RelationshipFilter,
    Retry,
    Timeout,
    Unavailable,
)
from rebac.client._agents import by_type, spawn_updates
from rebac.client._base import bulk_items, decision_of, decision_of_error, retry_delay
from rebac.client._config import Idempotency
from rebac.client._encode import consistency_json, entity_json, filter_json, relationship_json
from rebac.client._tokens import Tokens, newer
from rebac.client._v1 import import_lines
from rebac.errors import RefSyntaxError
from rebac.opaque import encode
from rebac.refs import ObjectRef, SubjectRef, parse_relationship


def _unavailable(slug: str) -> Unavailable:
    return Unavailable(Problem(type=f"urn:rebac:problem:{slug}", title="t", status=503))


LOST = ConnectionLost("lost")
REFUSED = ConnectError("refused")
SLOW = Timeout("slow")
DOWN = _unavailable("store-unavailable")
ROLLED_BACK = _unavailable("serialization-failure")
BAD = BadRequest(Problem(type="urn:rebac:problem:invalid-input", title="t", status=400))


@pytest.mark.parametrize(
    ("idempotency", "error", "retried"),
    [
        (Idempotency.READ, REFUSED, True),
        (Idempotency.READ, LOST, True),
        (Idempotency.READ, DOWN, True),
        (Idempotency.READ, ROLLED_BACK, True),
        (Idempotency.READ, SLOW, False),
        (Idempotency.READ, BAD, False),
        (Idempotency.WRITE, REFUSED, True),
        (Idempotency.WRITE, LOST, False),
        (Idempotency.WRITE, DOWN, False),
        (Idempotency.WRITE, ROLLED_BACK, True),
        (Idempotency.WRITE, SLOW, False),
        (Idempotency.NEVER, REFUSED, False),
        (Idempotency.NEVER, ROLLED_BACK, False),
    ],
)
def test_which_failures_are_retried(idempotency: Idempotency, error: Exception, retried: bool) -> None:
    assert isinstance(error, ConnectError | ConnectionLost | Timeout | Unavailable | BadRequest)
    delay = retry_delay(DEFAULT_RETRY, idempotency, 1, error)
    assert (delay is not None) is retried
    assert retry_delay(DEFAULT_RETRY, idempotency, DEFAULT_RETRY.attempts, error) is None


def test_backoff_is_exponential_with_jitter_and_bounded() -> None:
    policy = Retry(attempts=10, backoff=0.1, max_backoff=1.0)
    for retry, nominal in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1
    assert policy.delay(1, retry_after=0.5) == 0.5
    assert policy.delay(1, retry_after=30) == 1.0
    assert retry_delay(policy, Idempotency.READ, 1, DOWN, {"retry-after": "0.25"}) == 0.25
    with pytest.raises(ValueError, match="at least 1"):
        Retry(attempts=0)
    assert (DEFAULT_RETRY.attempts, DEFAULT_RETRY.backoff, DEFAULT_RETRY.max_backoff) == (3, 0.1, 2.0)
    assert (DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read, DEFAULT_TIMEOUT.write, DEFAULT_TIMEOUT.pool) == (
        2.0,
        10.0,
        10.0,
        2.0,
    )


def _token(revision: int, store: str = "s1") -> str:
    return encode({"v": 1, "r": revision, "s": store})


def test_the_newer_token_wins_and_others_are_ordered_by_arrival() -> None:
    assert newer(None, _token(1)) == _token(1)
    assert newer(_token(5), _token(3)) == _token(5)
    assert newer(_token(3), _token(5)) == _token(5)
    assert newer(_token(5), _token(3, "s2")) == _token(3, "s2")
    assert newer(_token(5), "not-a-token") == "not-a-token"
    tokens = Tokens(enabled=True)
    assert tokens.consistency(None) == (None, None)
    tokens.observe(_token(7))
    tokens.observe(_token(2))
    tokens.observe(None)
    assert tokens.token == _token(7)
    assert tokens.consistency(None) == ({"atLeastAsFresh": {"token": _token(7)}}, _token(7))
    assert tokens.consistency(Consistency.fully_consistent()) == ({"fullyConsistent": True}, None)
    assert tokens.header(None) == ({"X-Rebac-Consistency-Token": _token(7)}, _token(7))
    assert tokens.header(Consistency.minimize_latency()) == ({}, None)
    with pytest.raises(ValueError, match="AuthZEN"):
        tokens.header(Consistency.fully_consistent())
    tokens.enabled = False
    assert tokens.consistency(None) == (None, None)
    assert tokens.header(None) == ({}, None)
    tokens.forget(_token(1))
    assert tokens.token == _token(7)
    tokens.forget(_token(7))
    assert tokens.token is None


def _result(
    permissionship: Permissionship, *hops: DelegationHop, missing: tuple[str, ...] = ()
) -> CheckResult:
    return CheckResult(
        permissionship=permissionship, checked_at="t", delegation=hops, missing_context=missing
    )


def _hop(depth: int, permissionship: Permissionship, reason: str) -> DelegationHop:
    return DelegationHop(
        subject=SubjectRef("user", f"u{depth}"), depth=depth, permissionship=permissionship, reason=reason
    )


def test_only_an_explicit_has_permission_allows() -> None:
    has, no, cond = (
        Permissionship.HAS_PERMISSION,
        Permissionship.NO_PERMISSION,
        Permissionship.CONDITIONAL_PERMISSION,
    )
    assert decision_of(_result(has)).reason is Reason.GRANTED
    assert decision_of(_result(has)).allowed
    assert decision_of(_result(no)).reason is Reason.DENIED
    conditional = decision_of(_result(cond, missing=("day",)))
    assert (conditional.allowed, conditional.reason, conditional.detail) == (
        False,
        Reason.CONDITIONAL,
        "missing context: day",
    )
    capped = decision_of(_result(no, _hop(0, has, "granted"), _hop(1, no, "denied")))
    assert (capped.allowed, capped.reason, capped.detail) == (False, Reason.DELEGATION, "user:u1: denied")
    orphan = decision_of(_result(no, _hop(0, no, "orphan")))
    assert orphan.reason is Reason.DELEGATION
    own = decision_of(_result(no, _hop(0, no, "denied")))
    assert own.reason is Reason.DENIED
    for error, reason in [
        (SLOW, Reason.TIMEOUT),
        (_unavailable("deadline-exceeded"), Reason.TIMEOUT),
        (REFUSED, Reason.OUTAGE),
        (LOST, Reason.OUTAGE),
        (DOWN, Reason.OUTAGE),
        (BAD, Reason.ERROR),
        (RuntimeError("bug"), Reason.ERROR),
    ]:
        decision = decision_of_error(error)
        assert (decision.allowed, decision.reason, decision.error) == (False, reason, error)
        assert not decision


def test_request_shapes() -> None:
    rel = parse_relationship('doc:1#viewer@user:tom[ip_ok:{"a":1}][expiration:2030-01-02T03:04:05Z]')
    assert relationship_json(rel) == {
        "resource": {"objectType": "doc", "objectId": "1"},
        "relation": "viewer",
        "subject": {"object": {"objectType": "user", "objectId": "tom"}},
        "optionalCaveat": {"caveatName": "ip_ok", "context": {"a": 1}},
        "optionalExpiresAt": "2030-01-02T03:04:05Z",
    }
    assert relationship_json("team:a#member@team:b#member")["subject"]["optionalRelation"] == "member"
    assert filter_json(RelationshipFilter(subject_type="agent", subject_id="a7", subject_relation="")) == {
        "optionalSubjectFilter": {
            "subjectType": "agent",
            "optionalSubjectId": "a7",
            "optionalRelation": {"relation": ""},
        }
    }
    assert filter_json(RelationshipFilter(resource_type="doc", resource_id="1", relation="viewer")) == {
        "resourceType": "doc",
        "optionalResourceId": "1",
        "optionalRelation": "viewer",
    }
    with pytest.raises(ValueError, match="subject_type"):
        filter_json(RelationshipFilter(subject_id="x"))
    assert consistency_json(Consistency.at_exact_snapshot("t")) == {"atExactSnapshot": {"token": "t"}}
    with pytest.raises(ValueError, match="needs a token"):
        consistency_json(Consistency("at_least_as_fresh"))
    assert entity_json("user:alice") == {"type": "user", "id": "alice"}
    assert entity_json(ObjectRef("doc", "1")) == {"type": "doc", "id": "1"}
    with pytest.raises(ValueError, match="no relation"):
        entity_json("team:a#member")
    with pytest.raises(RefSyntaxError):
        entity_json("not a ref")


def test_import_lines_are_read_lazily_in_chunks() -> None:
    def endless() -> Iterator[str]:
        for i in itertools.count():
            yield f"doc:{i}#viewer@user:u"

    chunks = import_lines(endless(), chunk_bytes=1024)
    first = next(chunks)
    assert 1024 <= len(first) < 1100
    assert first.endswith(b"\n")
    lines = list(import_lines([parse_relationship("doc:1#viewer@user:u"), "  ", "doc:2#viewer@user:u\n"]))
    assert lines == [b'{"relationship":"doc:1#viewer@user:u"}\ndoc:2#viewer@user:u\n']
    assert json.loads(lines[0].split(b"\n")[0]) == {"relationship": "doc:1#viewer@user:u"}


def test_spawn_updates_are_one_atomic_time_bound_write() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    updates = spawn_updates(
        "agent:a7",
        "user:alice",
        ["doc:1#viewer", ("tool:mail", "invoker"), 'tool:pay#invoker[limit:{"max":5}]'],
        ttl=timedelta(minutes=30),
        principal_relation="principal",
        now=now,
    )
    texts = [str(u.relationship) for u in updates]
    end = "[expiration:2030-01-01T00:30:00Z]"
    assert texts == [
        f"agent:a7#principal@user:alice{end}",
        f"doc:1#viewer@agent:a7{end}",
        f"tool:mail#invoker@agent:a7{end}",
        f'tool:pay#invoker@agent:a7[limit:{{"max":5}}]{end}',
    ]
    assert {u.operation.name for u in updates} == {"TOUCH"}
    forever = spawn_updates(
        "agent:a7", "user:alice", ["doc:1#viewer"], ttl=None, principal_relation="principal"
    )
    assert [str(u.relationship) for u in forever] == [
        "agent:a7#principal@user:alice",
        "doc:1#viewer@agent:a7",
    ]
    own = spawn_updates(
        "agent:a7",
        "agent:boss",
        ["doc:1#viewer[expiration:2031-01-01T00:00:00Z]"],
        ttl=timedelta(hours=1),
        principal_relation="owner",
        now=now,
    )
    assert str(own[0].relationship).startswith("agent:a7#owner@agent:boss")
    assert str(own[1].relationship).endswith("[expiration:2031-01-01T00:00:00Z]")
    with pytest.raises(RefSyntaxError):
        spawn_updates("agent:a7", "user:alice", ["doc:1"], ttl=None, principal_relation="principal")
    found = [parse_relationship("doc:1#viewer@agent:a7"), parse_relationship("tool:x#invoker@agent:a7")]
    assert [f.resource_type for f in by_type("agent:a7", found)] == ["doc", "tool"]


def test_correlation_ids_must_be_unique() -> None:
    check = BulkCheck(resource="doc:1", permission="view", subject="user:u")
    assert bulk_items({"a": check, ("b", 2): check}) == [("a", check), (("b", 2), check)]
    with pytest.raises(ValueError, match="used twice"):
        bulk_items([("a", check), ("a", check)])
