"""``/v1/watch``: relationship changes after a token, streamed as NDJSON, bounded in time and count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Stream

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON, event_stream, ndjson, wants_sse
from rebac.api.problems import clip, problem_responses
from rebac.errors import InvalidInputError
from rebac.refs import TYPE_RE
from rebac.services.bounds import check_batch
from rebac.services.core import Services

__all__ = ["WatchController"]

DEFAULT_TIMEOUT: Final = 30.0
MAX_TIMEOUT: Final = 300.0
DEFAULT_CHANGES: Final = 1_000
MAX_CHANGES: Final = 10_000


class WatchController(Controller):
    """Change feed (scope ``write``)."""

    path = "/v1/watch"
    guards = [require_scope("write")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["watch"]  # noqa: RUF012

    @post("/", operation_id="Watch", status_code=200, media_type=NDJSON, responses=problem_responses())
    async def watch(
        self,
        data: JSONBody[dto.WatchRequest],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Stream the changes after ``optionalStartCursor`` (from now when absent) as NDJSON.

        With ``Accept: text/event-stream`` the same items come as server-sent ``result`` events.

        One ``{"result": WatchResponse}`` line per revision, until ``optionalTimeoutSeconds`` (absent:
        30; ``0``: no wait, only the changes already committed; at most 300) or ``optionalLimit``
        changes (default 1000, max 10000); a final checkpoint line says how far it got.
        """
        limit = data.optional_limit or DEFAULT_CHANGES
        check_batch(limit, MAX_CHANGES, limit="MAX_WATCH_CHANGES", what="changes requested")
        timeout = _timeout(data.optional_timeout_seconds)
        for name in data.optional_object_types:
            if not TYPE_RE.fullmatch(name):
                raise InvalidInputError(
                    f"optionalObjectTypes holds {clip(name)!r}, which is no object type name",
                    details={"field": "optionalObjectTypes"},
                )
        items = await services.relationships.watch(
            start=data.optional_start_cursor.token if data.optional_start_cursor is not None else None,
            limit=limit,
            timeout=timeout,
            types=frozenset(data.optional_object_types),
        )

        async def feed() -> AsyncIterator[dto.WatchResponse]:
            async for item in items:
                yield dto.WatchResponse(
                    updates=[
                        dto.WatchUpdate(
                            operation=convert.operation_name(c.operation),  # type: ignore[arg-type]
                            relationship=convert.relationship_dto(c.relationship),
                        )
                        for c in item.changes
                    ],
                    changes_through=dto.ZedToken(services.token_for(item.revision)),
                    is_checkpoint=item.checkpoint,
                )

        return event_stream(feed()) if wants_sse(request) else ndjson(feed())


def _timeout(requested: float | None) -> float:
    """How long to wait for changes: absent is the default, ``0`` is no wait.

    SpiceDB's Watch has no timeout (this member is rebac's), so the proto3 reading "0 means
    unset" does not apply: a client that asks for 0 s means "what is there now".

    Raises:
        InvalidInputError: a negative timeout or one above :data:`MAX_TIMEOUT`.
    """
    if requested is None:
        return DEFAULT_TIMEOUT
    if not 0 <= requested <= MAX_TIMEOUT:
        raise InvalidInputError(
            f"optionalTimeoutSeconds must be between 0 and {MAX_TIMEOUT:g}",
            details={"field": "optionalTimeoutSeconds", "maximum": MAX_TIMEOUT},
        )
    return requested
