"""SpiceDB v1 DTOs of the relationship, schema and watch endpoints."""

from __future__ import annotations

from typing import Literal

import msgspec

from rebac.api.dto._core import (
    Consistency,
    Cursor,
    NonNegative,
    PreconditionOperation,
    Relationship,
    UpdateOperation,
    ZedToken,
    _In,
    _Out,
)

__all__ = [
    "DeleteRequest",
    "DeleteResponse",
    "ExportRequest",
    "ImportResponse",
    "Precondition",
    "ReadRequest",
    "ReadResponse",
    "ReadResult",
    "RelationFilter",
    "RelationshipFilter",
    "RelationshipUpdate",
    "SchemaDiffRequest",
    "SchemaDiffResponse",
    "SchemaReadResponse",
    "SchemaVersionInfo",
    "SchemaVersionsResponse",
    "SchemaWriteRequest",
    "SchemaWriteResponse",
    "SubjectFilter",
    "WatchRequest",
    "WatchResponse",
    "WatchUpdate",
    "WriteRequest",
    "WriteResponse",
]

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
    optional_limit: NonNegative | None = None
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
    optional_limit: NonNegative | None = None
    optional_allow_partial_deletions: bool = False


class DeleteResponse(_Out):
    """What was deleted."""

    deleted_at: ZedToken
    deletion_progress: Literal["DELETION_PROGRESS_COMPLETE", "DELETION_PROGRESS_PARTIAL"]
    relationships_deleted_count: str


class ExportRequest(_In):
    """``POST /v1/relationships/exportbulk``."""

    consistency: Consistency | None = None
    optional_limit: NonNegative | None = None
    optional_cursor: Cursor | None = None
    optional_relationship_filter: RelationshipFilter | None = None


class ImportResponse(_Out):
    """``numLoaded`` is a string, as in SpiceDB's JSON (int64)."""

    num_loaded: str
    written_at: ZedToken


# --- schema ---------------------------------------------------------------------------------------


class SchemaWriteRequest(_In):
    """``POST /v1/schema/write``.

    Additions: ``force`` overrides the orphan check; ``optionalExpectedVersion`` is a compare-and-set
    (``0``: no schema yet) so two admins cannot overwrite each other's change.
    """

    schema: str
    force: bool = False
    optional_expected_version: int | None = None


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
    optional_limit: NonNegative | None = None
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
