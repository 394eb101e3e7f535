"""The access-request role of both stores: a decision and its grant commit together or not at all.

Every test runs on PostgreSQL and on the memory twin (:mod:`rebac.store.memory._requests`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.errors import ConflictError, NotFoundError, StoreError
from rebac.refs import Relationship, parse_object, parse_subject
from rebac.store.base import (
    AccessRequest,
    AccessRequestStore,
    Consistency,
    ConsistencyMode,
    RelationshipFilter,
    TupleStore,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture(params=["postgres", "memory"])
async def pg(store_factory: Any, request: pytest.FixtureRequest) -> AsyncIterator[TupleStore]:
    async with store_factory(request.param, quantization_seconds=0) as store:
        yield store


def _role(store: TupleStore) -> AccessRequestStore:
    role = store.roles.requests
    assert role is not None
    return role


def _request(request_id: str, *, expires_in: float = 600) -> AccessRequest:
    return AccessRequest(
        request_id=request_id,
        status="pending",
        subject="agent:bot",
        chain=("user:alice",),
        resource="document:plan",
        action="view",
        relation="viewer",
        justification="why",
        requested_until=NOW + timedelta(hours=1),
        requester="agent:bot",
        evaluation_id=None,
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=expires_in),
    )


GRANT = Relationship(
    parse_object("document:plan"), "viewer", parse_subject("agent:bot"), expires_at=NOW + timedelta(hours=1)
)


async def _grants(store: TupleStore) -> list[Relationship]:
    revision = await store.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
    return [r async for r in store.query(RelationshipFilter(resource_type="document"), revision=revision)]


async def test_round_trip_list_and_duplicate(pg: TupleStore) -> None:
    role = _role(pg)
    await role.add_access_request(_request("ar_1"))
    with pytest.raises(ConflictError):
        await role.add_access_request(_request("ar_1"))
    found = await role.get_access_request("ar_1")
    assert found == _request("ar_1")
    assert await role.get_access_request("ar_none") is None
    assert [r.request_id for r in await role.list_access_requests(status="pending", limit=10)] == ["ar_1"]
    assert await role.list_access_requests(status="approved", limit=10) == []


async def test_pages_split_inside_one_microsecond_list_each_request_once(pg: TupleStore) -> None:
    role = _role(pg)
    for request_id in ("ar_a", "ar_b", "ar_c"):  # all three made at the same instant
        await role.add_access_request(_request(request_id))
    seen: list[str] = []
    before: tuple[datetime, str] | None = None
    for _ in range(5):  # bounded: three pages and an empty one at most
        page = await role.list_access_requests(before=before, limit=1)
        if not page:
            break
        seen.extend(r.request_id for r in page)
        before = (page[-1].created_at, page[-1].request_id)
    assert seen == ["ar_c", "ar_b", "ar_a"]


async def test_approval_writes_the_grant_with_the_state(pg: TupleStore) -> None:
    role = _role(pg)
    await role.add_access_request(_request("ar_2"))
    decided = await role.decide_access_request(
        "ar_2", status="approved", decided_by="user:bob", now=NOW, grant=GRANT
    )
    assert decided.status == "approved"
    assert decided.decided_by == "user:bob"
    assert decided.grant_revision is not None
    assert decided.grant_expires_at == GRANT.expires_at
    assert await _grants(pg) == [GRANT]
    with pytest.raises(ConflictError):
        await role.decide_access_request("ar_2", status="denied", decided_by="user:bob", now=NOW)
    with pytest.raises(NotFoundError):
        await role.decide_access_request("ar_none", status="denied", decided_by="user:bob", now=NOW)


async def test_a_failed_state_change_writes_no_grant(pg: TupleStore) -> None:
    role = _role(pg)
    await role.add_access_request(_request("ar_3"))
    # the grant is inserted first; the state change then breaks the status constraint: all rolls back
    with pytest.raises(StoreError):
        await role.decide_access_request("ar_3", status="bogus", decided_by="user:bob", now=NOW, grant=GRANT)
    assert await _grants(pg) == []
    found = await role.get_access_request("ar_3")
    assert found is not None
    assert found.status == "pending"


async def test_expiry_rules(pg: TupleStore) -> None:
    role = _role(pg)
    await role.add_access_request(_request("ar_4", expires_in=-1))
    with pytest.raises(ConflictError):
        await role.decide_access_request(
            "ar_4", status="approved", decided_by="user:bob", now=NOW, grant=GRANT
        )
    assert await _grants(pg) == []
    expired = await role.decide_access_request("ar_4", status="expired", decided_by=None, now=NOW)
    assert expired.status == "expired"
    await role.add_access_request(_request("ar_5"))
    with pytest.raises(ConflictError):
        await role.decide_access_request("ar_5", status="expired", decided_by=None, now=NOW)
