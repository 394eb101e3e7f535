"""The relationships apps write when they spawn and retire agents.

``spawn_agent`` writes, in ONE atomic write, the agent's principal edge
(``agent:planner-7#principal@user:alice``) and each grant with the agent as subject
(``tool:email#invoker@agent:planner-7``). Every one of them expires after ``ttl`` unless
``ttl=None``: the schema relations must then allow ``with expiration`` (``relation invoker: agent
with expiration``, with ``use expiration``), or the write is refused whole. A grant is written in
the one text syntax without its subject: ``"tool:email#invoker"``, optionally with a caveat
(``'tool:pay#invoker[amount_within_limit:{"max_amount":100}]'``) or its own expiration.

``retire_agent`` finds the agent's principal edges and every relationship naming it as subject
(a fully consistent export of each filter) and deletes them all in one write when they fit in one;
then it deletes the principal edges by filter once more, so an edge written meanwhile cannot keep
the agent alive. When there are too many for one write, the principal edges go first (a
delegating agent without a principal is denied everything) and the grants follow, one filtered
delete per resource type. Sub-agents the agent spawned are not retired, but their principal edges
to it name it as subject and go with it: they are orphans (denied everything) until given another
principal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from rebac.client._encode import ObjectLike, object_ref
from rebac.client._models import RelationshipFilter, Update
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_relationship

__all__ = ["DEFAULT_AGENT_TTL", "Grant", "grant_relationship", "retire_filters", "spawn_updates"]

DEFAULT_AGENT_TTL = timedelta(hours=1)
"""How long a spawned agent's principal edge and grants live unless ``ttl`` says otherwise."""

Grant = str | tuple[ObjectLike, str]
"""``"tool:email#invoker"`` (maybe with ``[caveat:{...}]`` or ``[expiration:...]``), or a pair."""


def grant_relationship(grant: Grant, agent: ObjectRef, expires_at: datetime | None) -> Relationship:
    """The relationship granting ``grant`` to ``agent`` (parsed with the one syntax)."""
    if isinstance(grant, tuple):
        resource, relation = grant
        text = f"{object_ref(resource)}#{relation}"
    else:
        text = grant.strip()
    head, bracket, suffix = text.partition("[")
    if "@" in head:
        raise ValueError(f"a grant names no subject (the agent is the subject): {grant!r}")
    rel = parse_relationship(f"{head}@{agent}{bracket}{suffix}")
    if rel.expires_at is None and expires_at is not None:
        rel = Relationship(rel.resource, rel.relation, rel.subject, rel.caveat, expires_at)
    return rel


def spawn_updates(
    agent: ObjectLike,
    principal: ObjectLike | SubjectRef | str,
    grants: Iterable[Grant],
    *,
    ttl: timedelta | None,
    principal_relation: str,
    now: datetime | None = None,
) -> list[Update]:
    """The TOUCH updates of one spawn: the principal edge first, then every grant."""
    agent_ref = object_ref(agent)
    if ttl is not None and ttl <= timedelta(0):
        raise ValueError("ttl must be positive (or None for grants that do not expire)")
    expires = (now or datetime.now(UTC)) + ttl if ttl is not None else None
    principal_text = str(principal) if not isinstance(principal, str) else principal
    edge = parse_relationship(f"{agent_ref}#{principal_relation}@{principal_text}")
    if expires is not None:
        edge = Relationship(edge.resource, edge.relation, edge.subject, edge.caveat, expires)
    updates = [Update.touch(edge)]
    updates.extend(Update.touch(grant_relationship(g, agent_ref, expires)) for g in grants)
    return updates


def retire_filters(
    agent: ObjectLike, principal_relation: str
) -> tuple[RelationshipFilter, RelationshipFilter]:
    """``(principal edges of agent, relationships naming agent as subject)``."""
    ref = object_ref(agent)
    edges = RelationshipFilter(resource_type=ref.type, resource_id=ref.id, relation=principal_relation)
    as_subject = RelationshipFilter(subject_type=ref.type, subject_id=ref.id)
    return edges, as_subject


def by_type(agent: ObjectLike, found: Iterable[Relationship]) -> list[RelationshipFilter]:
    """One filter per resource type of ``found``: the relationships naming ``agent`` as subject."""
    ref = object_ref(agent)
    types = sorted({rel.resource.type for rel in found})
    return [RelationshipFilter(resource_type=t, subject_type=ref.type, subject_id=ref.id) for t in types]
