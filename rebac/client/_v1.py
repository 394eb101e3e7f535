"""Request builders of SpiceDB's v1 endpoints: permissions, relationships, schema, watch, health.

Each builder turns friendly arguments into a :class:`~rebac.client._call.Call` (or a stream or a
cursor walk) that either client sends. Reads take the client's :class:`~rebac.client._tokens.Tokens`
so they carry the read-your-writes token unless ``consistency`` is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec

from rebac.client import _wire as w
from rebac.client._call import Call, Page, Paged, StreamCall, decoder, json_decoder
from rebac.client._config import (
    DEFAULT_BULK_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
    Idempotency,
    Timeouts,
)
from rebac.client._encode import (
    ObjectLike,
    RelationshipLike,
    SubjectLike,
    filter_json,
    object_json,
    precondition_json,
    subject_json,
    update_json,
    via_json,
)
from rebac.client._errors import problem_of_body
from rebac.client._models import (
    BulkCheck,
    BulkCheckResult,
    CheckResult,
    Consistency,
    DeleteResult,
    ExpandResult,
    ImportResult,
    LookupResource,
    LookupSubject,
    Precondition,
    RelationshipFilter,
    SchemaDiff,
    SchemaInfo,
    SchemaVersion,
    SchemaWriteResult,
    Update,
    WatchEvent,
)
from rebac.client._tokens import Tokens
from rebac.refs import Relationship, parse_relationship

__all__ = [
    "IMPORT_CHUNK_BYTES",
    "check",
    "check_bulk",
    "delete_relationships",
    "diff_schema",
    "expand",
    "export_relationships",
    "health",
    "import_lines",
    "import_relationships",
    "lookup_resources",
    "lookup_subjects",
    "read_relationships",
    "read_schema",
    "ready",
    "schema_versions",
    "watch",
    "write_relationships",
    "write_schema",
]

IMPORT_CHUNK_BYTES: Final = 64 * 1024
"""A bulk import is sent in chunks of about this size (the iterable is read lazily)."""

READ_AT_HEADER: Final = "X-Rebac-Read-At"

_CHECK: Final = json_decoder(w.WireCheck, w.check_of)
_BULK: Final = json_decoder(w.WireBulk, w.bulk_of)
_EXPAND: Final = json_decoder(w.WireExpand, w.expand_of)
_WRITE: Final = json_decoder(w.WireWrite, lambda x: x.written_at.token)
_READ: Final = json_decoder(w.WireRead, w.read_of)
_DELETE: Final = json_decoder(w.WireDelete, w.delete_of)
_IMPORT: Final = json_decoder(w.WireImport, w.import_of)
_SCHEMA_WRITE: Final = json_decoder(w.WireSchemaWrite, w.schema_write_of)
_SCHEMA_READ: Final = json_decoder(w.WireSchemaRead, w.schema_read_of)
_SCHEMA_DIFF: Final = json_decoder(w.WireSchemaDiff, w.schema_diff_of)
_LOOKUP_RESOURCES: Final = decoder(w.WireLookupResources)
_LOOKUP_SUBJECTS: Final = decoder(w.WireLookupSubjects)
_WATCH_LINE: Final = decoder(w.WireWatchLine)


class _Versions(msgspec.Struct):
    versions: list[SchemaVersion]


_VERSIONS: Final = json_decoder(_Versions, lambda x: x.versions)


def _body(
    tokens: Tokens, consistency: Consistency | None, **members: Any
) -> tuple[dict[str, Any], str | None]:
    body = {k: v for k, v in members.items() if v is not None}
    chosen, auto = tokens.consistency(consistency)
    if chosen is not None:
        body["consistency"] = chosen
    return body, auto


def check(
    tokens: Tokens,
    resource: ObjectLike,
    permission: str,
    subject: SubjectLike,
    *,
    context: dict[str, Any] | None = None,
    via: Sequence[SubjectLike] | None = None,
    consistency: Consistency | None = None,
    with_tracing: bool = False,
) -> Call[CheckResult]:
    """``POST /v1/permissions/check``."""
    body, auto = _body(
        tokens,
        consistency,
        resource=object_json(resource),
        permission=permission,
        subject=subject_json(subject),
        context=context,
        optionalVia=via_json(via) or None,
        withTracing=with_tracing or None,
    )
    return Call("POST", "/v1/permissions/check", _CHECK, body, token=lambda r: r.checked_at, auto_token=auto)


def _bulk_item(item: BulkCheck) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": object_json(item.resource),
        "permission": item.permission,
        "subject": subject_json(item.subject),
    }
    if item.context is not None:
        out["context"] = item.context
    if item.via:
        out["optionalVia"] = via_json(item.via)
    return out


def check_bulk(
    tokens: Tokens,
    items: Sequence[BulkCheck],
    *,
    consistency: Consistency | None = None,
    with_tracing: bool = False,
) -> Call[list[BulkCheckResult]]:
    """``POST /v1/permissions/checkbulk`` (one result per item, in order)."""
    body, auto = _body(
        tokens, consistency, items=[_bulk_item(i) for i in items], withTracing=with_tracing or None
    )
    return Call(
        "POST",
        "/v1/permissions/checkbulk",
        _BULK,
        body,
        token=lambda r: r[0].checked_at if r else None,
        auto_token=auto,
    )


def expand(
    tokens: Tokens, resource: ObjectLike, permission: str, *, consistency: Consistency | None = None
) -> Call[ExpandResult]:
    """``POST /v1/permissions/expand``."""
    body, auto = _body(tokens, consistency, resource=object_json(resource), permission=permission)
    return Call(
        "POST", "/v1/permissions/expand", _EXPAND, body, token=lambda r: r.expanded_at, auto_token=auto
    )


def _page_token(page: Page[Any]) -> str | None:
    items = page[0]
    return items[0].looked_up_at if items else None


def lookup_resources(
    tokens: Tokens,
    resource_type: str,
    permission: str,
    subject: SubjectLike,
    *,
    context: dict[str, Any] | None = None,
    consistency: Consistency | None = None,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Paged[LookupResource]:
    """``POST /v1/permissions/resources``, page by page."""
    body, auto = _body(
        tokens,
        consistency,
        resourceObjectType=resource_type,
        permission=permission,
        subject=subject_json(subject),
        context=context,
        optionalLimit=page_size,
    )

    def decode(raw: bytes) -> Page[LookupResource]:
        return w.lookup_resources_of(_LOOKUP_RESOURCES(raw), resource_type)

    def page(after: str | None) -> Call[Page[LookupResource]]:
        data = body if after is None else {**body, "optionalCursor": {"token": after}}
        return Call("POST", "/v1/permissions/resources", decode, data, token=_page_token, auto_token=auto)

    return Paged(page, cursor)


def lookup_subjects(
    tokens: Tokens,
    resource: ObjectLike,
    permission: str,
    subject_type: str,
    *,
    subject_relation: str | None = None,
    context: dict[str, Any] | None = None,
    consistency: Consistency | None = None,
    include_wildcards: bool = True,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Paged[LookupSubject]:
    """``POST /v1/permissions/subjects``, page by page."""
    body, auto = _body(
        tokens,
        consistency,
        resource=object_json(resource),
        permission=permission,
        subjectObjectType=subject_type,
        optionalSubjectRelation=subject_relation or None,
        context=context,
        optionalConcreteLimit=page_size,
        wildcardOption=None if include_wildcards else "WILDCARD_OPTION_EXCLUDE_WILDCARDS",
    )

    def decode(raw: bytes) -> Page[LookupSubject]:
        return w.lookup_subjects_of(_LOOKUP_SUBJECTS(raw), subject_type, subject_relation or None)

    def page(after: str | None) -> Call[Page[LookupSubject]]:
        data = body if after is None else {**body, "optionalCursor": {"token": after}}
        return Call("POST", "/v1/permissions/subjects", decode, data, token=_page_token, auto_token=auto)

    return Paged(page, cursor)


def _update(item: Update | RelationshipLike) -> dict[str, Any]:
    return update_json(item if isinstance(item, Update) else Update.touch(item))


def write_relationships(
    updates: Iterable[Update | RelationshipLike], preconditions: Iterable[Precondition] = ()
) -> Call[str]:
    """``POST /v1/relationships/write`` (a plain relationship is a TOUCH); decodes to the token."""
    body: dict[str, Any] = {"updates": [_update(u) for u in updates]}
    pre = [precondition_json(p) for p in preconditions]
    if pre:
        body["optionalPreconditions"] = pre
    return Call(
        "POST", "/v1/relationships/write", _WRITE, body, idempotency=Idempotency.WRITE, token=lambda t: t
    )


def read_relationships(
    tokens: Tokens,
    flt: RelationshipFilter,
    *,
    consistency: Consistency | None = None,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Paged[Relationship]:
    """``POST /v1/relationships/read``, page by page."""
    body, auto = _body(tokens, consistency, relationshipFilter=filter_json(flt), optionalLimit=page_size)

    def page(after: str | None) -> Call[Page[Relationship]]:
        data = body if after is None else {**body, "optionalCursor": {"token": after}}
        return Call("POST", "/v1/relationships/read", _READ, data, auto_token=auto)

    return Paged(page, cursor)


def delete_relationships(
    flt: RelationshipFilter,
    *,
    preconditions: Iterable[Precondition] = (),
    limit: int | None = None,
    allow_partial: bool = False,
) -> Call[DeleteResult]:
    """``POST /v1/relationships/delete`` (by filter)."""
    body: dict[str, Any] = {"relationshipFilter": filter_json(flt)}
    pre = [precondition_json(p) for p in preconditions]
    if pre:
        body["optionalPreconditions"] = pre
    if limit is not None:
        body["optionalLimit"] = limit
    if allow_partial:
        body["optionalAllowPartialDeletions"] = True
    return Call(
        "POST",
        "/v1/relationships/delete",
        _DELETE,
        body,
        idempotency=Idempotency.WRITE,
        token=lambda r: r.deleted_at,
    )


def import_lines(items: Iterable[RelationshipLike], chunk_bytes: int = IMPORT_CHUNK_BYTES) -> Iterator[bytes]:
    """NDJSON chunks of ``items``, read lazily.

    A :class:`Relationship` becomes ``{"relationship": "<text>"}``; a string is sent as it is, one
    line (the text syntax, ``{"relationship": ...}`` or a v1 Relationship object).
    """
    pending: list[bytes] = []
    size = 0
    for item in items:
        if isinstance(item, str):
            text = item.strip()
            if not text:
                continue
            line = text.encode()
        else:
            line = json.dumps({"relationship": str(item)}, separators=(",", ":")).encode()
        pending.append(line + b"\n")
        size += len(line) + 1
        if size >= chunk_bytes:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def import_relationships(content: Any) -> Call[ImportResult]:
    """``POST /v1/relationships/importbulk`` with a streamed NDJSON body (never retried)."""
    return Call(
        "POST",
        "/v1/relationships/importbulk",
        _IMPORT,
        headers={"Content-Type": "application/x-ndjson"},
        idempotency=Idempotency.NEVER,
        token=lambda r: r.written_at,
        timeout=DEFAULT_BULK_TIMEOUT,
        content=content,
    )


def _problem_line(data: dict[str, Any]) -> Exception:
    return problem_of_body(data["error"], 500, "stream error").exception()


def _export_line(raw: str) -> Relationship | None:
    data = msgspec.json.decode(raw)
    if not isinstance(data, dict):
        raise msgspec.ValidationError("an export line is a JSON object")
    if "error" in data:
        raise _problem_line(data)
    text = data.get("relationship")
    if not isinstance(text, str):
        raise msgspec.ValidationError('an export line is {"relationship": "<text>"}')
    return parse_relationship(text)


def export_relationships(
    tokens: Tokens, flt: RelationshipFilter | None = None, *, consistency: Consistency | None = None
) -> StreamCall[Relationship]:
    """``POST /v1/relationships/exportbulk``, line by line."""
    body, auto = _body(tokens, consistency)
    if flt is not None:
        body["optionalRelationshipFilter"] = filter_json(flt)
    return StreamCall(
        "POST",
        "/v1/relationships/exportbulk",
        _export_line,
        body,
        timeout=DEFAULT_BULK_TIMEOUT,
        token_header=READ_AT_HEADER,
        auto_token=auto,
    )


def write_schema(
    schema: str, *, force: bool = False, expected_version: int | None = None
) -> Call[SchemaWriteResult]:
    """``POST /v1/schema/write`` (never replayed: each write is a new version)."""
    body: dict[str, Any] = {"schema": schema}
    if force:
        body["force"] = True
    if expected_version is not None:
        body["optionalExpectedVersion"] = expected_version
    return Call(
        "POST",
        "/v1/schema/write",
        _SCHEMA_WRITE,
        body,
        idempotency=Idempotency.WRITE,
        token=lambda r: r.written_at,
    )


def read_schema(version: int | None = None) -> Call[SchemaInfo]:
    """``POST /v1/schema/read`` (the current one), or ``GET /v1/schema/versions/{version}``."""
    if version is not None:
        return Call("GET", f"/v1/schema/versions/{int(version)}", _SCHEMA_READ)
    return Call("POST", "/v1/schema/read", _SCHEMA_READ, {})


def diff_schema(
    comparison: str | None = None, *, from_version: int | None = None, to_version: int | None = None
) -> Call[SchemaDiff]:
    """``POST /v1/schema/diffschema``."""
    body: dict[str, Any] = {}
    if comparison is not None:
        body["comparisonSchema"] = comparison
    if from_version is not None:
        body["optionalFromVersion"] = from_version
    if to_version is not None:
        body["optionalToVersion"] = to_version
    return Call("POST", "/v1/schema/diffschema", _SCHEMA_DIFF, body)


def schema_versions() -> Call[list[SchemaVersion]]:
    """``GET /v1/schema/versions``."""
    return Call("GET", "/v1/schema/versions", _VERSIONS)


def _watch_line(raw: str) -> WatchEvent | None:
    line = _WATCH_LINE(raw)
    if line.error is not None:
        raise _problem_line({"error": line.error})
    if line.result is None:
        raise msgspec.ValidationError('a watch line is {"result": ...} or {"error": ...}')
    return w.watch_event_of(line.result)


def watch(
    start: str | None = None,
    *,
    object_types: Iterable[str] = (),
    limit: int | None = None,
    timeout_seconds: float | None = None,
    read_timeout: float,
) -> StreamCall[WatchEvent]:
    """``POST /v1/watch``: ends after the server's checkpoint line."""
    body: dict[str, Any] = {}
    if start is not None:
        body["optionalStartCursor"] = {"token": start}
    types = list(object_types)
    if types:
        body["optionalObjectTypes"] = types
    if limit is not None:
        body["optionalLimit"] = limit
    if timeout_seconds is not None:
        body["optionalTimeoutSeconds"] = timeout_seconds
    return StreamCall(
        "POST",
        "/v1/watch",
        _watch_line,
        body,
        timeout=Timeouts(
            connect=DEFAULT_CONNECT_TIMEOUT,
            read=read_timeout,
            write=DEFAULT_WRITE_TIMEOUT,
            pool=DEFAULT_POOL_TIMEOUT,
        ),
        token=lambda e: e.changes_through,
        last=lambda e: e.is_checkpoint,
    )


class _Status(msgspec.Struct):
    status: str


def health() -> Call[str]:
    """``GET /healthz``: ``"ok"`` while the process is alive."""
    return Call("GET", "/healthz", json_decoder(_Status, lambda s: s.status))


def ready() -> Call[str]:
    """``GET /readyz``: ``"ready"``, or a 503 problem (database unreachable, migrations behind)."""
    return Call("GET", "/readyz", json_decoder(_Status, lambda s: s.status))
