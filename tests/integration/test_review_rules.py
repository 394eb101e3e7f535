"""Who may review an identity (``Inventory.review_as``), on the memory engine and on PostgreSQL.

Every branch of the rule in :mod:`rebac.services.inventory`: a key acting for no subject, an
identity that does not exist, an owner refused, an owner allowed by ``permission review``, a
non-owner allowed without it, a non-owner that ``permission review`` denies, a reviewer of no
schema type, the identity itself, and owners that cannot be known. A refused review writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from rebac.config import EngineSettings, Settings
from rebac.errors import InvalidInputError, NotFoundError, NotPermittedError, SubjectRequiredError
from rebac.refs import parse_relationship, parse_subject
from rebac.services.core import Services
from rebac.services.types import DecisionFilter, Operation, RelationshipUpdate

pytestmark = pytest.mark.integration

NO_REVIEW_PERMISSION = """
definition user {}
definition agent {
    relation principal: user | agent
    relation owner: user
    relation auditor: user
    permission audit = owner + auditor
    acts_for principal
}
definition doc {
    relation viewer: user | agent
}
"""

WITH_REVIEW_PERMISSION = """
definition user {}
definition agent {
    relation principal: user | agent
    relation owner: user
    relation auditor: user
    permission review = owner + auditor
    acts_for principal
}
definition doc {
    relation viewer: user | agent
}
"""

RELATIONSHIPS = (
    "agent:planner#principal@user:alice",
    "agent:planner#owner@user:alice",
    "agent:planner#auditor@user:carol",
    "agent:search#principal@agent:planner",
    "doc:1#viewer@agent:planner",
    "doc:1#viewer@agent:search",
)


@pytest.fixture(params=["memory", "postgres"])
async def services(request: pytest.FixtureRequest, store_factory: Any) -> AsyncIterator[Services]:
    async with store_factory(request.param, quantization_seconds=0) as store:
        built = Services(
            store, Settings(engine=EngineSettings(max_delegation_hops=2)), schema_refresh_seconds=0
        )
        built.start()
        try:
            yield built
        finally:
            await built.aclose()


async def load(services: Services, schema: str, relationships: Sequence[str] = RELATIONSHIPS) -> None:
    await services.schemas.write(schema, author="test")
    current = await services.engines.current()
    updates = [RelationshipUpdate(Operation.TOUCH, parse_relationship(text)) for text in relationships]
    await services.relationships.write(current, updates)


async def review(services: Services, identity: str, reviewer: str | None) -> str:
    current = await services.engines.current()
    who = None if reviewer is None else parse_subject(reviewer)
    stored = await services.inventory.review_as(
        current, parse_subject(identity), reviewer=who, note="n", caller="k1"
    )
    return stored.reviewer


async def reviewed(services: Services) -> list[tuple[str, str]]:
    page = await services.inventory.reviews(subject=None, limit=100)
    return [(str(r.subject), r.reviewer) for r in page.reviews]


async def test_without_a_review_permission_anyone_but_an_owner_may_review(services: Services) -> None:
    await load(services, NO_REVIEW_PERMISSION)
    with pytest.raises(NotPermittedError, match="owns agent:planner"):
        await review(services, "agent:planner", "user:alice")
    with pytest.raises(NotPermittedError, match="owns agent:search"):  # the root of the sub-agent's chain
        await review(services, "agent:search", "user:alice")
    assert await reviewed(services) == []
    assert await review(services, "agent:planner", "user:bob") == "user:bob"
    assert await review(services, "agent:search", "agent:planner") == "agent:planner"  # not an owner
    assert await reviewed(services) == [("agent:search", "agent:planner"), ("agent:planner", "user:bob")]


async def test_an_identity_may_not_review_itself(services: Services) -> None:
    await load(services, NO_REVIEW_PERMISSION)
    with pytest.raises(NotPermittedError, match="may not review itself"):
        await review(services, "agent:planner", "agent:planner")
    assert await reviewed(services) == []


async def test_a_review_permission_decides_owners_included(services: Services) -> None:
    await load(services, WITH_REVIEW_PERMISSION)
    assert await review(services, "agent:planner", "user:alice") == "user:alice"  # owner, allowed
    assert await review(services, "agent:planner", "user:carol") == "user:carol"  # auditor
    with pytest.raises(NotPermittedError, match="lacks the 'review' permission") as denied:
        await review(services, "agent:planner", "user:bob")
    assert denied.value.details["reviewer"] == "user:bob"
    with pytest.raises(NotPermittedError, match="lacks the 'review' permission"):
        await review(services, "agent:search", "user:alice")  # alice owns search's root, holds no review
    with pytest.raises(NotPermittedError, match="no type of the schema"):
        await review(services, "agent:planner", "robot:r2")
    assert await reviewed(services) == [("agent:planner", "user:carol"), ("agent:planner", "user:alice")]
    # the review permission check is a recorded decision
    log = services.decisions.log()
    for _ in range(100):
        records = await log.query_decisions(DecisionFilter(permission="review"), limit=10)
        if len(records) >= 3:
            break
        await asyncio.sleep(0.05)
    assert {(r.source, r.caller, r.subject, r.result.value) for r in records} >= {
        ("review", "k1", "user:alice", "allowed"),
        ("review", "k1", "user:bob", "denied"),
    }


async def test_an_unknown_identity_or_a_subjectless_key_writes_nothing(services: Services) -> None:
    await load(services, NO_REVIEW_PERMISSION)
    with pytest.raises(NotFoundError, match="does not exist"):
        await review(services, "agent:ghost", "user:bob")
    with pytest.raises(SubjectRequiredError, match="acts for no subject"):
        await review(services, "agent:planner", None)
    with pytest.raises(InvalidInputError):  # not an identity type: refused before anything else
        await review(services, "user:alice", "user:bob")
    assert await reviewed(services) == []


async def test_owners_that_cannot_be_known_refuse_the_review(services: Services) -> None:
    chain = (
        "agent:a1#principal@agent:a2",
        "agent:a2#principal@agent:a3",
        "agent:a3#principal@agent:a4",
        "agent:a4#principal@user:alice",
        "doc:1#viewer@agent:a1",
    )
    await load(services, NO_REVIEW_PERMISSION, chain)  # longer than the hop limit of 2
    with pytest.raises(NotPermittedError, match="owners of agent:a1 are unknown"):
        await review(services, "agent:a1", "user:bob")
    assert await review(services, "agent:a4", "user:bob") == "user:bob"  # a short chain is fine
    assert await reviewed(services) == [("agent:a4", "user:bob")]
