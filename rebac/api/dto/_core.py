"""SpiceDB v1 DTOs shared by every endpoint, and those of checks, expand and lookups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AlgebraicSubjectSet",
    "CheckBulkItem",
    "CheckBulkPair",
    "CheckBulkRequest",
    "CheckBulkResponse",
    "CheckBulkResult",
    "CheckRequest",
    "CheckResponse",
    "Consistency",
    "ContextualizedCaveat",
    "Cursor",
    "DebugInformation",
    "DelegationHop",
    "DirectSubjectSet",
    "ExpandRequest",
    "ExpandResponse",
    "LookupPermissionshipValue",
    "LookupResourcesRequest",
    "LookupResourcesResponse",
    "LookupResourcesResult",
    "LookupSubjectsRequest",
    "LookupSubjectsResponse",
    "LookupSubjectsResult",
    "ObjectReference",
    "PartialCaveatInfo",
    "PermissionTree",
    "PermissionshipValue",
    "PreconditionOperation",
    "Relationship",
    "ResolvedSubject",
    "Status",
    "SubjectReference",
    "UpdateOperation",
    "ZedToken",
]

PermissionshipValue = Literal[
    "PERMISSIONSHIP_NO_PERMISSION",
    "PERMISSIONSHIP_HAS_PERMISSION",
    "PERMISSIONSHIP_CONDITIONAL_PERMISSION",
]
LookupPermissionshipValue = Literal[
    "LOOKUP_PERMISSIONSHIP_HAS_PERMISSION",
    "LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION",
]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
"""A count or size: ``0`` means "the default", a negative one is a 400."""
UpdateOperation = Literal["OPERATION_TOUCH", "OPERATION_CREATE", "OPERATION_DELETE"]
PreconditionOperation = Literal["OPERATION_MUST_MATCH", "OPERATION_MUST_NOT_MATCH"]


class _In(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase names; an unknown field is refused (400 naming it).

    A misspelt optional member (``consistncy``) would otherwise be dropped silently and change
    the request's meaning. (AuthZEN's DTOs stay open: that spec requires extensibility.)
    """


class _Out(msgspec.Struct, rename="camel", omit_defaults=True):
    """Base of response bodies: camelCase names, unset optional members omitted."""


# --- shared ----------------------------------------------------------------------------------------


class ZedToken(_In, _Out):
    """An opaque consistency token."""

    token: str


class ObjectReference(_In, _Out):
    """``{objectType, objectId}``."""

    object_type: str
    object_id: str


class SubjectReference(_In, _Out):
    """``{object, optionalRelation}``."""

    object: ObjectReference
    optional_relation: str = ""


class Consistency(_In):
    """Exactly one of the four modes; none means ``minimizeLatency``."""

    minimize_latency: bool | None = None
    at_least_as_fresh: ZedToken | None = None
    at_exact_snapshot: ZedToken | None = None
    fully_consistent: bool | None = None


class PartialCaveatInfo(_Out):
    """Caveat parameters whose absence made a result conditional."""

    missing_required_context: list[str]


class ContextualizedCaveat(_In, _Out):
    """A caveat name and the context stored with the relationship."""

    caveat_name: str
    context: dict[str, Any] | None = None


class Relationship(_In, _Out):
    """``resource#relation@subject`` with optional caveat and expiry (RFC 3339)."""

    resource: ObjectReference
    relation: str
    subject: SubjectReference
    optional_caveat: ContextualizedCaveat | None = None
    optional_expires_at: str | None = None


# --- check ----------------------------------------------------------------------------------------


class CheckRequest(_In):
    """``POST /v1/permissions/check``.

    ``optionalVia`` (an addition) is the actual call chain above the subject, nearest principal
    first (an OAuth ``act`` chain): each entry must be a recorded principal of the one before.
    ``optionalSchemaVersion`` (an addition) pins the check to a stored schema version instead of
    the current one (DESIGN §2); an unknown version is a 404, never a fallback.
    """

    resource: ObjectReference
    permission: str
    subject: SubjectReference
    consistency: Consistency | None = None
    context: dict[str, Any] | None = None
    with_tracing: bool = False
    optional_via: list[SubjectReference] = msgspec.field(default_factory=list)
    optional_schema_version: int | None = None


class DelegationHop(_Out):
    """One identity on the checked subject's principal chain, with its own verdict (an addition).

    ``reason`` is ``granted``, ``denied``, ``conditional``, ``orphan``, ``principal_cycle`` or
    ``chain_mismatch``; the first hop without permission is the one that failed.
    """

    subject: SubjectReference
    depth: int
    permissionship: PermissionshipValue
    reason: str
    partial_caveat_info: PartialCaveatInfo | None = None
    principal_of: list[SubjectReference] = msgspec.field(default_factory=list)


class DebugInformation(_Out):
    """What decided a check (``withTracing``)."""

    check: dict[str, Any]
    schema_used: str = ""


class CheckResponse(_Out):
    """The decision."""

    checked_at: ZedToken
    permissionship: PermissionshipValue
    partial_caveat_info: PartialCaveatInfo | None = None
    debug_trace: DebugInformation | None = None
    optional_expires_at: str | None = None
    decision_id: str | None = None
    """The decision's id in the decision log (``GET /v1/decisions``); an addition to SpiceDB's shape."""
    delegation: list[DelegationHop] | None = None


class CheckBulkItem(_In, _Out):
    """One item of a bulk check (``optionalVia``: as in :class:`CheckRequest`)."""

    resource: ObjectReference
    permission: str
    subject: SubjectReference
    context: dict[str, Any] | None = None
    optional_via: list[SubjectReference] = msgspec.field(default_factory=list)


class CheckBulkRequest(_In):
    """``POST /v1/permissions/checkbulk``."""

    items: list[CheckBulkItem]
    consistency: Consistency | None = None
    with_tracing: bool = False


class CheckBulkResult(_Out):
    """One item's decision."""

    permissionship: PermissionshipValue
    partial_caveat_info: PartialCaveatInfo | None = None
    debug_trace: DebugInformation | None = None
    delegation: list[DelegationHop] | None = None


class Status(_Out):
    """A per-item error (fail closed: the caller must treat it as a deny)."""

    code: int
    message: str
    details: list[dict[str, Any]] = msgspec.field(default_factory=list)


class CheckBulkPair(_Out):
    """The request and either its result or its error."""

    request: CheckBulkItem
    item: CheckBulkResult | None = None
    error: Status | None = None
    decision_id: str | None = None
    """The item's decision id in the decision log (an addition to SpiceDB's shape)."""


class CheckBulkResponse(_Out):
    """All pairs, in request order."""

    checked_at: ZedToken
    pairs: list[CheckBulkPair]


# --- expand ---------------------------------------------------------------------------------------


class ExpandRequest(_In):
    """``POST /v1/permissions/expand``."""

    resource: ObjectReference
    permission: str
    consistency: Consistency | None = None


class DirectSubjectSet(_Out):
    """A leaf: the direct subjects."""

    subjects: list[SubjectReference]


class AlgebraicSubjectSet(_Out):
    """A set operation over child trees."""

    operation: Literal["OPERATION_UNION", "OPERATION_INTERSECTION", "OPERATION_EXCLUSION"]
    children: list[PermissionTree]


class PermissionTree(_Out):
    """SpiceDB's ``PermissionRelationshipTree``."""

    expanded_object: ObjectReference
    expanded_relation: str
    intermediate: AlgebraicSubjectSet | None = None
    leaf: DirectSubjectSet | None = None


class ExpandResponse(_Out):
    """The userset tree."""

    expanded_at: ZedToken
    tree_root: PermissionTree


# --- lookups --------------------------------------------------------------------------------------


class Cursor(_In, _Out):
    """An opaque pagination cursor."""

    token: str


class LookupResourcesRequest(_In):
    """``POST /v1/permissions/resources``."""

    resource_object_type: str
    permission: str
    subject: SubjectReference
    consistency: Consistency | None = None
    context: dict[str, Any] | None = None
    optional_limit: NonNegative | None = None
    optional_cursor: Cursor | None = None


class LookupResourcesResult(_Out):
    """One resource (one NDJSON line is ``{"result": <this>}``)."""

    looked_up_at: ZedToken
    resource_object_id: str
    permissionship: LookupPermissionshipValue
    partial_caveat_info: PartialCaveatInfo | None = None
    after_result_cursor: Cursor | None = None


class LookupResourcesResponse(_Out):
    """One page; ``afterResultCursor`` is set whenever more results may follow."""

    looked_up_at: ZedToken
    results: list[LookupResourcesResult]
    after_result_cursor: Cursor | None = None


class LookupSubjectsRequest(_In):
    """``POST /v1/permissions/subjects``."""

    resource: ObjectReference
    permission: str
    subject_object_type: str
    consistency: Consistency | None = None
    optional_subject_relation: str = ""
    context: dict[str, Any] | None = None
    optional_concrete_limit: NonNegative | None = None
    optional_cursor: Cursor | None = None
    wildcard_option: Literal[
        "WILDCARD_OPTION_UNSPECIFIED",
        "WILDCARD_OPTION_INCLUDE_WILDCARDS",
        "WILDCARD_OPTION_EXCLUDE_WILDCARDS",
    ] = "WILDCARD_OPTION_UNSPECIFIED"


class ResolvedSubject(_Out):
    """A subject id and how it has the permission."""

    subject_object_id: str
    permissionship: LookupPermissionshipValue
    partial_caveat_info: PartialCaveatInfo | None = None


class LookupSubjectsResult(_Out):
    """One subject (a wildcard lists the subjects it excludes)."""

    looked_up_at: ZedToken
    subject: ResolvedSubject
    excluded_subjects: list[ResolvedSubject] = msgspec.field(default_factory=list)
    after_result_cursor: Cursor | None = None


class LookupSubjectsResponse(_Out):
    """One page of subjects."""

    looked_up_at: ZedToken
    results: list[LookupSubjectsResult]
    after_result_cursor: Cursor | None = None
