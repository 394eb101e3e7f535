"""The client's values as the server's JSON (SpiceDB's v1 shapes and AuthZEN's).

Text is parsed here, with :mod:`rebac.refs` (the one syntax), before anything is sent: a malformed
reference raises :class:`rebac.errors.RefSyntaxError` (a ``ValueError``) and no request is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rebac.client._models import Consistency, Entity, Precondition, RelationshipFilter, Update
from rebac.refs import (
    ObjectRef,
    Relationship,
    SubjectRef,
    format_expiration,
    parse_object,
    parse_relationship,
    parse_subject,
)

__all__ = [
    "ObjectLike",
    "RelationshipLike",
    "SubjectLike",
    "consistency_json",
    "entity_json",
    "filter_json",
    "object_json",
    "object_ref",
    "precondition_json",
    "relationship_json",
    "relationship_ref",
    "subject_json",
    "subject_ref",
    "update_json",
    "via_json",
]

ObjectLike = ObjectRef | str
"""An object, or its text ``type:id``."""

SubjectLike = SubjectRef | ObjectRef | str
"""A subject, or its text ``type:id``, ``type:id#relation`` or ``type:*``."""

RelationshipLike = Relationship | str
"""A relationship, or its text ``type:id#relation@subject[caveat:{...}][expiration:...]``."""


def object_ref(value: ObjectLike) -> ObjectRef:
    """``value`` as an :class:`ObjectRef` (text is parsed)."""
    return parse_object(value) if isinstance(value, str) else value


def subject_ref(value: SubjectLike) -> SubjectRef:
    """``value`` as a :class:`SubjectRef` (text is parsed; an object is a plain subject)."""
    if isinstance(value, str):
        return parse_subject(value)
    if isinstance(value, ObjectRef):
        return SubjectRef(value.type, value.id)
    return value


def relationship_ref(value: RelationshipLike) -> Relationship:
    """``value`` as a :class:`Relationship` (text is parsed)."""
    return parse_relationship(value) if isinstance(value, str) else value


def object_json(value: ObjectLike) -> dict[str, str]:
    """``{objectType, objectId}``."""
    ref = object_ref(value)
    return {"objectType": ref.type, "objectId": ref.id}


def subject_json(value: SubjectLike) -> dict[str, Any]:
    """``{object, optionalRelation?}``."""
    ref = subject_ref(value)
    out: dict[str, Any] = {"object": {"objectType": ref.type, "objectId": ref.id}}
    if ref.relation:
        out["optionalRelation"] = ref.relation
    return out


def via_json(via: Iterable[SubjectLike] | None) -> list[dict[str, Any]]:
    """``optionalVia``: the call chain above the subject, nearest principal first."""
    return [subject_json(hop) for hop in via or ()]


def relationship_json(value: RelationshipLike) -> dict[str, Any]:
    """A v1 ``Relationship`` object."""
    rel = relationship_ref(value)
    out: dict[str, Any] = {
        "resource": object_json(rel.resource),
        "relation": rel.relation,
        "subject": subject_json(rel.subject),
    }
    if rel.caveat is not None:
        out["optionalCaveat"] = {"caveatName": rel.caveat.name, "context": dict(rel.caveat.context)}
    if rel.expires_at is not None:
        out["optionalExpiresAt"] = format_expiration(rel.expires_at)
    return out


def update_json(update: Update) -> dict[str, Any]:
    """One ``RelationshipUpdate``."""
    return {"operation": update.operation.value, "relationship": relationship_json(update.relationship)}


def filter_json(flt: RelationshipFilter) -> dict[str, Any]:
    """A v1 ``RelationshipFilter``."""
    out: dict[str, Any] = {}
    if flt.resource_type:
        out["resourceType"] = flt.resource_type
    if flt.resource_id:
        out["optionalResourceId"] = flt.resource_id
    if flt.relation:
        out["optionalRelation"] = flt.relation
    if flt.subject_type:
        sub: dict[str, Any] = {"subjectType": flt.subject_type}
        if flt.subject_id:
            sub["optionalSubjectId"] = flt.subject_id
        if flt.subject_relation is not None:
            sub["optionalRelation"] = {
                "relation": "" if flt.subject_relation == "..." else flt.subject_relation
            }
        out["optionalSubjectFilter"] = sub
    elif flt.subject_id or flt.subject_relation is not None:
        raise ValueError("a subject id or relation filter needs subject_type")
    return out


def precondition_json(pre: Precondition) -> dict[str, Any]:
    """One write precondition."""
    return {"operation": pre.operation, "filter": filter_json(pre.filter)}


def consistency_json(value: Consistency) -> dict[str, Any]:
    """A v1 ``Consistency`` object."""
    if value.mode == "minimize_latency":
        return {"minimizeLatency": True}
    if value.mode == "fully_consistent":
        return {"fullyConsistent": True}
    if not value.token:
        raise ValueError(f"consistency {value.mode} needs a token")
    key = "atLeastAsFresh" if value.mode == "at_least_as_fresh" else "atExactSnapshot"
    return {key: {"token": value.token}}


def entity_json(value: Entity | SubjectLike) -> dict[str, Any]:
    """An AuthZEN ``{type, id, properties?}`` (text is parsed with the one syntax)."""
    if isinstance(value, Entity):
        out: dict[str, Any] = {"type": value.type, "id": value.id}
        if value.properties is not None:
            out["properties"] = value.properties
        return out
    ref = subject_ref(value)
    if ref.relation:
        raise ValueError(f"an AuthZEN entity has no relation: {ref}")
    return {"type": ref.type, "id": ref.id}
