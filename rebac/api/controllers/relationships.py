"""``/v1/relationships/*``: atomic write, read, delete by filter, bulk import and export (NDJSON)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Stream

from rebac import errors
from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON, page_limit
from rebac.api.problems import problem_responses
from rebac.api.request import check_json_value
from rebac.refs import Relationship, parse_relationship, stored
from rebac.services.core import Services
from rebac.services.interchange import encode_line
from rebac.services.relationships import Conformance
from rebac.services.types import Current, RelationshipFilter

__all__ = ["IMPORT_BODY_FACTOR", "RelationshipsController"]

IMPORT_BODY_FACTOR: Final = 64
"""``importbulk`` accepts bodies up to this many times ``max_request_bytes``."""

_DTO_DECODER: Final = msgspec.json.Decoder(dto.Relationship)


def _parse_import_line(raw: str, number: int) -> Relationship | None:
    text = raw.strip()
    if not text or text.startswith("//"):
        return None
    try:
        if text.startswith("{"):
            obj = json.loads(text)
            value = obj.get("relationship") if isinstance(obj, dict) else None
            if isinstance(value, str):
                return _checked(stored(parse_relationship(value)))
            if isinstance(value, dict):
                return _checked(convert.relationship_of(_DTO_DECODER.decode(json.dumps(value))))
            return _checked(convert.relationship_of(_DTO_DECODER.decode(text)))
        return _checked(stored(parse_relationship(text)))
    except RecursionError:
        raise errors.RefSyntaxError(
            f"line {number}: the JSON is nested too deeply", text=text[:200], part="line", position=0
        ) from None
    except (ValueError, msgspec.ValidationError) as exc:
        message = exc.message if isinstance(exc, errors.RebacError) else str(exc)
        raise errors.RefSyntaxError(
            f"line {number}: {message}", text=text[:200], part="line", position=0
        ) from None


def _checked(rel: Relationship) -> Relationship:
    """``rel`` once its caveat context is shallow enough and free of NUL (PostgreSQL refuses it).

    Raises:
        InvalidInputError: the context nests too deeply or holds a NUL (a ``ValueError``).
    """
    if rel.caveat is not None:
        check_json_value(rel.caveat.context)
    return rel


class RelationshipsController(Controller):
    """Relationship writes and reads (scope ``write``)."""

    path = "/v1/relationships"
    guards = [require_scope("write")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["relationships"]  # noqa: RUF012

    @post("/write", operation_id="WriteRelationships", status_code=200, responses=problem_responses(409, 422))
    async def write(
        self,
        data: JSONBody[dto.WriteRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
    ) -> dto.WriteResponse:
        """Apply every update atomically (touch/create/delete) after the preconditions, or nothing."""
        result = await services.relationships.write(
            current, convert.updates_of(data.updates), convert.preconditions_of(data.optional_preconditions)
        )
        return dto.WriteResponse(written_at=dto.ZedToken(result.token))

    @post("/read", operation_id="ReadRelationships", status_code=200, responses=problem_responses())
    async def read(
        self, data: JSONBody[dto.ReadRequest], services: NamedDependency[Services]
    ) -> dto.ReadResponse:
        """One page of relationships matching the filter, with a cursor when more follow."""
        page = await services.relationships.read(
            convert.filter_of(data.relationship_filter),
            consistency=convert.consistency_of(data.consistency),
            limit=page_limit(data.optional_limit, services.settings.api),
            cursor=data.optional_cursor.token if data.optional_cursor is not None else None,
        )
        token = dto.ZedToken(services.token_for(page.revision))
        results = [
            dto.ReadResult(read_at=token, relationship=convert.relationship_dto(rel))
            for rel in page.relationships
        ]
        cursor = dto.Cursor(page.cursor) if page.cursor is not None else None
        if cursor is not None:
            results[-1].after_result_cursor = cursor
        return dto.ReadResponse(read_at=token, results=results, after_result_cursor=cursor)

    @post("/delete", operation_id="DeleteRelationships", status_code=200, responses=problem_responses(409))
    async def delete(
        self, data: JSONBody[dto.DeleteRequest], services: NamedDependency[Services]
    ) -> dto.DeleteResponse:
        """Delete every relationship matching the filter (atomically; see ``optionalLimit``)."""
        outcome = await services.relationships.delete(
            convert.filter_of(data.relationship_filter),
            convert.preconditions_of(data.optional_preconditions),
            limit=data.optional_limit or None,
            allow_partial=data.optional_allow_partial_deletions,
        )
        return dto.DeleteResponse(
            deleted_at=dto.ZedToken(outcome.result.token),
            deletion_progress="DELETION_PROGRESS_PARTIAL"
            if outcome.partial
            else "DELETION_PROGRESS_COMPLETE",
            relationships_deleted_count=str(outcome.result.count),
        )

    @post(
        "/importbulk",
        operation_id="ImportBulkRelationships",
        status_code=200,
        request_max_body_size=None,
        responses=problem_responses(409, 422),
    )
    async def import_bulk(
        self,
        request: Request[Any, Any, Any],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
    ) -> dto.ImportResponse:
        """Load NDJSON relationships atomically.

        Each line is ``{"relationship": "<text>"}``, a v1 Relationship object, or plain text. A bad
        line, a relationship the schema refuses, or a duplicate writes nothing.
        """
        budget = services.settings.api.max_request_bytes * IMPORT_BODY_FACTOR
        check = services.relationships.conformance(current)
        relationships: list[Relationship] = []
        size = 0
        pending = b""
        number = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > budget:
                raise errors.LimitExceededError(
                    "the import body is too large; split it",
                    limit="MAX_IMPORT_BYTES",
                    maximum=budget,
                    actual=size,
                )
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                number += 1
                _collect(relationships, check, line, number)
        if pending.strip():
            _collect(relationships, check, pending, number + 1)
        # The version guard: refused (409) if the schema changed after these lines were checked.
        result = await services.relationships.bulk_import(
            relationships, schema_version=current.version.version
        )
        return dto.ImportResponse(num_loaded=str(result.loaded), written_at=dto.ZedToken(result.token))

    @post(
        "/exportbulk",
        operation_id="ExportBulkRelationships",
        status_code=200,
        media_type=NDJSON,
        responses=problem_responses(),
    )
    async def export_bulk(
        self, data: JSONBody[dto.ExportRequest], services: NamedDependency[Services]
    ) -> Stream:
        """Stream every matching relationship at one revision as NDJSON.

        Lines are ``{"relationship": "<text>"}``: the format ``importbulk`` and ``rebac import`` read.
        """
        flt = (
            convert.filter_of(data.optional_relationship_filter, require_type=False)
            if data.optional_relationship_filter is not None
            else RelationshipFilter()
        )
        revision, found = await services.relationships.export(
            flt, consistency=convert.consistency_of(data.consistency)
        )

        async def lines() -> AsyncIterator[bytes]:
            async for rel in found:
                yield encode_line(rel).encode() + b"\n"

        return Stream(lines(), media_type=NDJSON, headers={"X-Rebac-Read-At": services.token_for(revision)})


def _collect(out: list[Relationship], check: Conformance, raw: bytes, number: int) -> None:
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise errors.RefSyntaxError(f"line {number}: not UTF-8", text="", part="line") from None
    rel = _parse_import_line(text, number)
    if rel is not None:
        check(rel, number)
        out.append(rel)
