"""msgspec DTOs for the SpiceDB-shaped v1 endpoints (camelCase field names, as SpiceDB's JSON API).

These types exist only at the HTTP edge: controllers turn them into :mod:`rebac.refs` and
:mod:`rebac.store.base` values (see :mod:`rebac.api.convert`) before anything else sees them.
Unknown fields are ignored; a missing required field is a 400.
"""

from __future__ import annotations

from typing import Any, Literal

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
    "DebugInformation",
    "DeleteRequest",
    "DeleteResponse",
    "DirectSubjectSet",
    "ExpandRequest",
    "ExpandResponse",
    "ExportRequest",
    "ImportResponse",
    "LookupResourcesRequest",
    "LookupResourcesResponse",
    "LookupResourcesResult",
    "LookupSubjectsRequest",
    "LookupSubjectsResponse",
    "LookupSubjectsResult",
    "ObjectReference",
    "PartialCaveatInfo",
    "PermissionTree",
    "Precondition",
    "ReadRequest",
    "ReadResponse",
    "ReadResult",
    "Relationship",
    "RelationshipFilter",
    "RelationshipUpdate",
    "ResolvedSubject",
    "SchemaDiffRequest",
    "SchemaDiffResponse",
    "SchemaReadResponse",
    "SchemaVersionInfo",
    "SchemaVersionsResponse",
    "SchemaWriteRequest",
    "SchemaWriteResponse",
    "SubjectFilter",
    "SubjectReference",
    "WatchRequest",
    "WatchResponse",
    "WriteRequest",
    "WriteResponse",
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
UpdateOperation = Literal["OPERATION_TOUCH", "OPERATION_CREATE", "OPERATION_DELETE"]
PreconditionOperation = Literal["OPERATION_MUST_MATCH", "OPERATION_MUST_NOT_MATCH"]


class _In(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    """Base of request bodies: camelCase names, unknown fields ignored."""


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
    """``POST /v1/permissions/check``."""

    resource: ObjectReference
    permission: str
    subject: SubjectReference
    consistency: Consistency | None = None
    context: dict[str, Any] | None = None
    with_tracing: bool = False


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


class CheckBulkItem(_In, _Out):
    """One item of a bulk check."""

    resource: ObjectReference
    permission: str
    subject: SubjectReference
    context: dict[str, Any] | None = None


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
    optional_limit: int | None = None
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
    optional_concrete_limit: int | None = None
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


# --- relationships --------------------------------------------------------------------------------


class RelationFilter(_In):
    """``{relation}``; empty means plain subjects only (SpiceDB's ellipsis)."""

    relation: str = ""


class SubjectFilter(_In):
    """Matches subjects."""

    subject_type: str
    optional_subject_id: str = ""
    optional_relation: RelationFilter | None = None


class RelationshipFilter(_In):
    """Matches relationships (``resourceType`` may be empty only when other fields narrow it)."""

    resource_type: str = ""
    optional_resource_id: str = ""
    optional_relation: str = ""
    optional_subject_filter: SubjectFilter | None = None


class Precondition(_In):
    """Must (not) match inside the write transaction."""

    operation: PreconditionOperation
    filter: RelationshipFilter


class RelationshipUpdate(_In):
    """One update."""

    operation: UpdateOperation
    relationship: Relationship


class WriteRequest(_In):
    """``POST /v1/relationships/write``: atomic, all or nothing."""

    updates: list[RelationshipUpdate]
    optional_preconditions: list[Precondition] = msgspec.field(default_factory=list)


class WriteResponse(_Out):
    """The token of the write."""

    written_at: ZedToken


class ReadRequest(_In):
    """``POST /v1/relationships/read``."""

    relationship_filter: RelationshipFilter
    consistency: Consistency | None = None
    optional_limit: int | None = None
    optional_cursor: Cursor | None = None


class ReadResult(_Out):
    """One relationship."""

    read_at: ZedToken
    relationship: Relationship
    after_result_cursor: Cursor | None = None


class ReadResponse(_Out):
    """One page of relationships."""

    read_at: ZedToken
    results: list[ReadResult]
    after_result_cursor: Cursor | None = None


class DeleteRequest(_In):
    """``POST /v1/relationships/delete``: by filter."""

    relationship_filter: RelationshipFilter
    optional_preconditions: list[Precondition] = msgspec.field(default_factory=list)
    optional_limit: int | None = None
    optional_allow_partial_deletions: bool = False


class DeleteResponse(_Out):
    """What was deleted."""

    deleted_at: ZedToken
    deletion_progress: Literal["DELETION_PROGRESS_COMPLETE", "DELETION_PROGRESS_PARTIAL"]
    relationships_deleted_count: str


class ExportRequest(_In):
    """``POST /v1/relationships/exportbulk``."""

    consistency: Consistency | None = None
    optional_limit: int | None = None
    optional_cursor: Cursor | None = None
    optional_relationship_filter: RelationshipFilter | None = None


class ImportResponse(_Out):
    """``numLoaded`` is a string, as in SpiceDB's JSON (int64)."""

    num_loaded: str
    written_at: ZedToken


# --- schema ---------------------------------------------------------------------------------------


class SchemaWriteRequest(_In):
    """``POST /v1/schema/write``; ``force`` (an addition) overrides the orphan check."""

    schema: str
    force: bool = False


class SchemaWriteResponse(_Out):
    """The token and the new version number."""

    written_at: ZedToken
    version: int
    hash: str


class SchemaReadResponse(_Out):
    """The current schema text."""

    schema_text: str
    read_at: ZedToken
    version: int
    hash: str


class SchemaDiffRequest(_In):
    """``POST /v1/schema/diffschema``: compare a text (or a stored version) with the current one."""

    comparison_schema: str = ""
    optional_from_version: int | None = None
    optional_to_version: int | None = None


class SchemaDiffResponse(_Out):
    """A unified diff (an addition; SpiceDB returns structured diffs)."""

    read_at: ZedToken
    from_version: str
    to_version: str
    diff: str
    changed: bool


class SchemaVersionInfo(_Out):
    """One stored schema version."""

    version: int
    hash: str
    author: str
    created_at: str
    current: bool


class SchemaVersionsResponse(_Out):
    """Every version, oldest first."""

    versions: list[SchemaVersionInfo]


# --- watch ----------------------------------------------------------------------------------------


class WatchRequest(_In):
    """``POST /v1/watch``: changes after ``optionalStartCursor`` (from now when absent)."""

    optional_start_cursor: ZedToken | None = None
    optional_object_types: list[str] = msgspec.field(default_factory=list)
    optional_limit: int | None = None
    optional_timeout_seconds: float | None = None


class WatchUpdate(_Out):
    """One change."""

    operation: UpdateOperation
    relationship: Relationship


class WatchResponse(_Out):
    """One revision's changes (one NDJSON line is ``{"result": <this>}``)."""

    updates: list[WatchUpdate]
    changes_through: ZedToken
    is_checkpoint: bool = False
