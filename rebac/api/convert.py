"""Parse at the edge: DTOs → validated :mod:`rebac.refs` / service values, and results → DTOs.

Names are checked with the grammar of :mod:`rebac.refs`, so the API accepts what the CLI and the
YAML files accept and reports a bad part the same way. Ids are free strings: an id from a request
is mapped to its stored form with :func:`rebac.refs.encode_id` (one-to-one; ids that fit SpiceDB's
grammar and do not start with ``=`` stay as they are) and every id in an answer is mapped back
with :func:`rebac.refs.decode_id`, so callers get their ids back as they wrote them. A subject id
``*`` is the wildcard.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from rebac import errors
from rebac.api import dto
from rebac.refs import (
    CAVEAT_NAME_RE,
    ELLIPSIS,
    RELATION_RE,
    TYPE_RE,
    WILDCARD,
    CaveatRef,
    ObjectRef,
    Relationship,
    SubjectRef,
    decode_id,
    encode_id,
    format_expiration,
    parse_expiration,
)
from rebac.services.types import (
    ANY_RELATION,
    CheckTrace,
    Consistency,
    ConsistencyMode,
    DecisionRecord,
    ExpandKind,
    ExpandNode,
    Hop,
    Operation,
    Permissionship,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
)

__all__ = [
    "consistency_of",
    "decision_dto",
    "filter_of",
    "hops_dto",
    "lookup_permissionship",
    "object_dto",
    "object_of",
    "operation_name",
    "partial",
    "permission_of",
    "preconditions_of",
    "relationship_dto",
    "relationship_of",
    "subject_dto",
    "subject_of",
    "trace_dto",
    "tree_dto",
    "updates_of",
    "via_of",
]

_KEPT_REFS: Final = 4096
_MINIMIZE_LATENCY: Final = Consistency()
_OPERATIONS = {
    "OPERATION_TOUCH": Operation.TOUCH,
    "OPERATION_CREATE": Operation.CREATE,
    "OPERATION_DELETE": Operation.DELETE,
}
_OPERATION_NAMES = {value: key for key, value in _OPERATIONS.items()}
_PRECONDITIONS = {
    "OPERATION_MUST_MATCH": PreconditionKind.MUST_MATCH,
    "OPERATION_MUST_NOT_MATCH": PreconditionKind.MUST_NOT_MATCH,
}
_SET_OPS = {
    ExpandKind.UNION: "OPERATION_UNION",
    ExpandKind.INTERSECTION: "OPERATION_INTERSECTION",
    ExpandKind.EXCLUSION: "OPERATION_EXCLUSION",
}


def object_of(ref: dto.ObjectReference) -> ObjectRef:
    """``{objectType, objectId}`` → :class:`ObjectRef` (no wildcard)."""
    return _object(ref.object_type, ref.object_id)


def subject_of(ref: dto.SubjectReference) -> SubjectRef:
    """``{object, optionalRelation}`` → :class:`SubjectRef`.

    Wildcards are allowed here; the engine refuses them where they make no sense.
    """
    return _subject(ref.object.object_type, ref.object.object_id, ref.optional_relation)


# Refs are immutable values and a service sees the same few again and again (every check names a
# resource and a subject); only parsed ones are kept, a refused text raises each time.
@functools.lru_cache(maxsize=_KEPT_REFS)
def _object(object_type: str, object_id: str, what: str = "object") -> ObjectRef:
    _check_name(object_type, f"{what} type", TYPE_RE)
    text = f"{object_type}:{object_id}"
    if object_id == WILDCARD:
        raise errors.RefSyntaxError(
            f"invalid {what} id: a wildcard is not an object", text=text, part=f"{what} id"
        )
    try:
        return ObjectRef(object_type, encode_id(object_id, what=f"{what} id"))
    except errors.RefSyntaxError as exc:
        raise errors.RefSyntaxError(
            exc.message, text=text, part=f"{what} id", position=len(object_type) + 1
        ) from None


@functools.lru_cache(maxsize=_KEPT_REFS)
def _subject(object_type: str, object_id: str, relation: str) -> SubjectRef:
    if object_id == WILDCARD:
        _check_name(object_type, "subject type", TYPE_RE)
        if relation and relation != ELLIPSIS:
            raise errors.RefSyntaxError(
                "a wildcard subject cannot have a relation",
                text=f"{object_type}:*#{relation}",
                part="subject relation",
            )
        return SubjectRef(object_type, WILDCARD)
    obj = _object(object_type, object_id, "subject")
    if relation and relation != ELLIPSIS:
        _check_name(relation, "subject relation", RELATION_RE)
        return SubjectRef(obj.type, obj.id, relation)
    return SubjectRef(obj.type, obj.id)


def permission_of(name: str) -> str:
    """A permission (or relation) name from a request, checked against the grammar."""
    _check_name(name, "permission", RELATION_RE)
    return name


def object_dto(ref: ObjectRef) -> dto.ObjectReference:
    """:class:`ObjectRef` → DTO (the id as the caller wrote it)."""
    return dto.ObjectReference(object_type=ref.type, object_id=decode_id(ref.id))


def subject_dto(ref: SubjectRef) -> dto.SubjectReference:
    """:class:`SubjectRef` → DTO (the id as the caller wrote it; ``*`` for a wildcard)."""
    return dto.SubjectReference(
        object=dto.ObjectReference(object_type=ref.type, object_id=decode_id(ref.id)),
        optional_relation=ref.relation or "",
    )


def consistency_of(value: dto.Consistency | None) -> Consistency:
    """The consistency mode; more than one mode set is a 400."""
    if value is None:
        return _MINIMIZE_LATENCY
    if (
        value.minimize_latency
        and not value.fully_consistent
        and value.at_least_as_fresh is None
        and value.at_exact_snapshot is None
    ):
        return _MINIMIZE_LATENCY  # the common case, without the general checks below
    chosen: list[Consistency] = []
    if value.minimize_latency:
        chosen.append(Consistency(ConsistencyMode.MINIMIZE_LATENCY))
    if value.fully_consistent:
        chosen.append(Consistency(ConsistencyMode.FULLY_CONSISTENT))
    if value.at_least_as_fresh is not None:
        chosen.append(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, value.at_least_as_fresh.token))
    if value.at_exact_snapshot is not None:
        chosen.append(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, value.at_exact_snapshot.token))
    if len(chosen) > 1:
        raise errors.InvalidInputError("consistency: set exactly one mode")
    if chosen and chosen[0].token is not None and not chosen[0].token:
        raise errors.InvalidTokenError("the consistency token is empty")
    return chosen[0] if chosen else Consistency()


def relationship_of(rel: dto.Relationship) -> Relationship:
    """A relationship DTO → :class:`Relationship` (syntax only; the schema is checked later)."""
    resource = object_of(rel.resource)
    subject = subject_of(rel.subject)
    relation_text = f"{resource}#{rel.relation}@{subject}"
    _check_name(rel.relation, "relation", RELATION_RE)
    caveat: CaveatRef | None = None
    if rel.optional_caveat is not None:
        name = rel.optional_caveat.caveat_name
        if CAVEAT_NAME_RE.fullmatch(name) is None:
            raise errors.RefSyntaxError(
                f"invalid caveat name {name!r}", text=relation_text, part="caveat name", position=0
            )
        caveat = CaveatRef(name, dict(rel.optional_caveat.context or {}))
    expires = None
    if rel.optional_expires_at:
        expires = parse_expiration(rel.optional_expires_at)
    return Relationship(resource, rel.relation, subject, caveat, expires)


def relationship_dto(rel: Relationship) -> dto.Relationship:
    """:class:`Relationship` → DTO."""
    caveat = None
    if rel.caveat is not None:
        caveat = dto.ContextualizedCaveat(caveat_name=rel.caveat.name, context=dict(rel.caveat.context))
    return dto.Relationship(
        resource=object_dto(rel.resource),
        relation=rel.relation,
        subject=subject_dto(rel.subject),
        optional_caveat=caveat,
        optional_expires_at=format_expiration(rel.expires_at) if rel.expires_at else None,
    )


def updates_of(updates: list[dto.RelationshipUpdate]) -> list[RelationshipUpdate]:
    """Write updates → store updates (the whole list is parsed before anything is written)."""
    return [RelationshipUpdate(_OPERATIONS[u.operation], relationship_of(u.relationship)) for u in updates]


def operation_name(operation: Operation) -> str:
    """``Operation.TOUCH`` → ``"OPERATION_TOUCH"``."""
    return _OPERATION_NAMES[operation]


def _check_name(value: str, what: str, pattern: re.Pattern[str]) -> None:
    if pattern.fullmatch(value) is None:
        raise errors.RefSyntaxError(f"invalid {what} {value!r}", text=value, part=what)


def filter_of(flt: dto.RelationshipFilter, *, require_type: bool = True) -> RelationshipFilter:
    """A relationship filter DTO → store filter."""
    if flt.resource_type:
        _check_name(flt.resource_type, "resource type", TYPE_RE)
    elif require_type:
        raise errors.InvalidInputError("relationshipFilter.resourceType is required")
    if flt.optional_resource_id and not flt.resource_type:
        raise errors.InvalidInputError("optionalResourceId needs resourceType")
    if flt.optional_relation:
        _check_name(flt.optional_relation, "relation", RELATION_RE)
    subject_type: str | None = None
    subject_ids: tuple[str, ...] = ()
    subject_relation: Any = ANY_RELATION
    sub = flt.optional_subject_filter
    if sub is not None:
        _check_name(sub.subject_type, "subject type", TYPE_RE)
        subject_type = sub.subject_type
        if sub.optional_subject_id:
            subject_ids = (_subject(sub.subject_type, sub.optional_subject_id, "").id,)
        if sub.optional_relation is not None:
            rel = sub.optional_relation.relation
            if rel:
                _check_name(rel, "subject relation", RELATION_RE)
            subject_relation = rel or None
    resource_ids: tuple[str, ...] = ()
    if flt.optional_resource_id:
        resource_ids = (_object(flt.resource_type, flt.optional_resource_id).id,)
    return RelationshipFilter(
        resource_type=flt.resource_type or None,
        resource_ids=resource_ids,
        relation=flt.optional_relation or None,
        subject_type=subject_type,
        subject_ids=subject_ids,
        subject_relation=subject_relation,
    )


def preconditions_of(items: list[dto.Precondition]) -> list[Precondition]:
    """Precondition DTOs → store preconditions."""
    return [Precondition(_PRECONDITIONS[p.operation], filter_of(p.filter)) for p in items]


def partial(missing: frozenset[str]) -> dto.PartialCaveatInfo | None:
    """``partialCaveatInfo`` for a conditional result, else ``None``."""
    return dto.PartialCaveatInfo(missing_required_context=sorted(missing)) if missing else None


def lookup_permissionship(value: Permissionship) -> dto.LookupPermissionshipValue:
    """Check permissionship → lookup permissionship."""
    if value is Permissionship.CONDITIONAL:
        return "LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION"
    return "LOOKUP_PERMISSIONSHIP_HAS_PERMISSION"


def via_of(refs: list[dto.SubjectReference]) -> tuple[SubjectRef, ...] | None:
    """A claimed call chain (``optionalVia``) → subject refs; ``None`` when empty."""
    return tuple(subject_of(ref) for ref in refs) or None


def hops_dto(hops: tuple[Hop, ...]) -> list[dto.DelegationHop] | None:
    """A check's delegation hops → DTOs; ``None`` (omitted) for undelegated subjects."""
    if not hops:
        return None
    return [
        dto.DelegationHop(
            subject=subject_dto(hop.subject),
            depth=hop.depth,
            permissionship=hop.permissionship.value,
            reason=hop.reason.value,
            partial_caveat_info=partial(hop.missing),
            principal_of=[subject_dto(ref) for ref in hop.principal_of],
        )
        for hop in hops
    ]


def tree_dto(node: ExpandNode) -> dto.PermissionTree:
    """An expand tree → SpiceDB's ``PermissionRelationshipTree``."""
    if node.kind is ExpandKind.LEAF:
        return dto.PermissionTree(
            expanded_object=object_dto(node.resource),
            expanded_relation=node.relation,
            leaf=dto.DirectSubjectSet(subjects=[subject_dto(s.subject) for s in node.subjects]),
        )
    return dto.PermissionTree(
        expanded_object=object_dto(node.resource),
        expanded_relation=node.relation,
        intermediate=dto.AlgebraicSubjectSet(
            operation=_SET_OPS[node.kind],  # type: ignore[arg-type]
            children=[tree_dto(child) for child in node.children],
        ),
    )


def decision_dto(record: DecisionRecord) -> dto.DecisionOut:
    """The JSON shape of one record (the API and ``rebac decisions`` share it)."""
    return dto.DecisionOut(
        decision_id=record.decision_id,
        decided_at=record.decided_at.isoformat().replace("+00:00", "Z"),
        source=record.source,
        subject=record.subject,
        permission=record.permission,
        resource=record.resource,
        result=record.result.value,
        reason=record.reason,
        latency_ms=record.latency_ms,
        caller=record.caller,
        chain=list(record.chain),
        revision=record.revision,
        schema_version=record.schema_version,
        schema_hash=record.schema_hash,
        context=record.context,
        decision_point=record.decision_point,
    )


def trace_dto(trace: CheckTrace) -> dict[str, Any]:
    """SpiceDB's ``CheckDebugTrace`` JSON of the evaluator's trace (``withTracing``)."""
    out: dict[str, Any] = {
        "resource": {"objectType": trace.resource.type, "objectId": decode_id(trace.resource.id)},
        "permission": trace.relation,
        "permissionType": "PERMISSION_TYPE_PERMISSION" if trace.is_permission else "PERMISSION_TYPE_RELATION",
        "subject": _subject_json(trace.subject),
        "result": trace.result.value if trace.result is not None else "PERMISSIONSHIP_UNSPECIFIED",
        "duration": f"{trace.duration:.6f}s",
    }
    if trace.missing:
        out["caveatEvaluationInfo"] = {"partialCaveatInfo": {"missingRequiredContext": sorted(trace.missing)}}
    if trace.error is not None:
        out["error"] = trace.error
    if trace.expires_at is not None:
        out["optionalExpiresAt"] = format_expiration(trace.expires_at)
    if trace.children:
        out["subProblems"] = {"traces": [trace_dto(child) for child in trace.children]}
    if trace.truncated:
        out["truncated"] = True
    return out


def _subject_json(ref: SubjectRef) -> dict[str, Any]:
    out: dict[str, Any] = {"object": {"objectType": ref.type, "objectId": decode_id(ref.id)}}
    if ref.relation:
        out["optionalRelation"] = ref.relation
    return out
