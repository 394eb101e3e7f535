"""``/v1/watch``: relationship changes after a token, streamed as NDJSON, bounded in time and count."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Final

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Stream

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON, check_batch, event_stream, ndjson, wants_sse
from rebac.api.problems import problem_responses
from rebac.api.services import Services
from rebac.store.base import Change, Consistency, ConsistencyMode
from rebac.store.revision import Revision

__all__ = ["WatchController"]

DEFAULT_TIMEOUT: Final = 30.0
MAX_TIMEOUT: Final = 300.0
DEFAULT_CHANGES: Final = 1_000
MAX_CHANGES: Final = 10_000


def _group(changes: list[Change]) -> list[tuple[Revision, list[Change]]]:
    groups: list[tuple[Revision, list[Change]]] = []
    for change in changes:
        if groups and groups[-1][0] == change.revision:
            groups[-1][1].append(change)
        else:
            groups.append((change.revision, [change]))
    return groups


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

        One ``{"result": WatchResponse}`` line per revision, until ``optionalTimeoutSeconds`` (default
        30, max 300) or ``optionalLimit`` changes (default 1000, max 10000); a final checkpoint line
        says how far it got.
        """
        store = services.store
        limit = data.optional_limit or DEFAULT_CHANGES
        check_batch(limit, MAX_CHANGES, limit="MAX_WATCH_CHANGES", what="changes requested")
        timeout = min(max(data.optional_timeout_seconds or DEFAULT_TIMEOUT, 0.0), MAX_TIMEOUT)
        if data.optional_start_cursor is not None:
            start = await store.resolve(
                Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, data.optional_start_cursor.token)
            )
        else:
            start = await store.head_revision()
        types = set(data.optional_object_types)

        async def feed() -> AsyncIterator[dto.WatchResponse]:
            deadline = time.monotonic() + timeout
            position, sent = start, 0
            while sent < limit:
                wanted = limit - sent
                changes = await store.changes_since(position, limit=wanted)
                groups = _group(changes)
                if len(changes) >= wanted and len(groups) > 1:
                    groups = groups[:-1]  # the last revision may be cut short: send it next time
                for revision, group in groups:
                    updates = [
                        dto.WatchUpdate(
                            operation=convert.operation_name(c.operation),  # type: ignore[arg-type]
                            relationship=convert.relationship_dto(c.relationship),
                        )
                        for c in group
                        if not types or c.relationship.resource.type in types
                    ]
                    position = revision
                    sent += len(group)
                    if updates:
                        yield dto.WatchResponse(
                            updates=updates, changes_through=dto.ZedToken(store.token_for(revision))
                        )
                remaining = deadline - time.monotonic()
                if changes or sent >= limit:
                    continue
                if remaining <= 0 or not await store.wait_for_revision(
                    Revision(position.value + 1), timeout=remaining
                ):
                    break
            yield dto.WatchResponse(
                updates=[], changes_through=dto.ZedToken(store.token_for(position)), is_checkpoint=True
            )

        return event_stream(feed()) if wants_sse(request) else ndjson(feed())
