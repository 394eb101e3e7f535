"""The async client: :class:`AsyncClient` (the methods of :class:`~rebac.client.Client`, awaited)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Hashable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self, TypeVar

from rebac.client import _v1
from rebac.client._agents import DEFAULT_AGENT_TTL, Grant, by_type, retire_filters, spawn_updates
from rebac.client._async_admin import AsyncAdmin
from rebac.client._base import bulk_items, decision_of, decision_of_error
from rebac.client._config import MAX_BULK_ITEMS, MAX_WRITE_UPDATES, STREAM_GRACE_SECONDS
from rebac.client._encode import ObjectLike, RelationshipLike, SubjectLike
from rebac.client._errors import ProblemError, TransportError
from rebac.client._iterators import AsyncPageIterator, AsyncStream
from rebac.client._models import (
    BulkCheck,
    BulkCheckResult,
    CheckResult,
    Consistency,
    Decision,
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
from rebac.refs import Relationship

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncClient"]

K = TypeVar("K", bound=Hashable)

_WATCH_DEFAULT_SECONDS = 30.0
"""The server's watch timeout when the request names none."""


_IMPORT_BATCH = 512
"""An async import encodes this many relationships at a time."""


async def import_chunks(
    items: Iterable[RelationshipLike] | AsyncIterable[RelationshipLike],
) -> AsyncIterator[bytes]:
    """The NDJSON chunks of ``items`` (a sync or an async iterable), read lazily."""
    if not isinstance(items, AsyncIterable):
        for chunk in _v1.import_lines(items):
            yield chunk
        return
    batch: list[RelationshipLike] = []
    async for item in items:
        batch.append(item)
        if len(batch) >= _IMPORT_BATCH:
            for chunk in _v1.import_lines(batch):
                yield chunk
            batch = []
    for chunk in _v1.import_lines(batch):
        yield chunk


class AsyncClient(AsyncAdmin):
    """An async client of a rebac server on ``httpx.AsyncClient``, with the methods of ``Client``.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080``.
        key: The API key (sent as ``Authorization: Bearer <key>``).
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for none
            (default :data:`~rebac.client.DEFAULT_TIMEOUT`).
        retry: Retries of idempotent reads (default :data:`~rebac.client.DEFAULT_RETRY`).
        read_your_writes: Send the newest token as ``atLeastAsFresh`` on reads (default on).
        headers: Extra headers on every request.
        transport: An httpx async transport (``httpx.MockTransport`` in your own tests).
    """

    async def __aenter__(self) -> Self:
        return self

    # --- permissions -----------------------------------------------------------------------------

    async def check(
        self,
        resource: ObjectLike,
        permission: str,
        subject: SubjectLike,
        *,
        context: dict[str, Any] | None = None,
        via: Sequence[SubjectLike] | None = None,
        consistency: Consistency | None = None,
        with_tracing: bool = False,
        timeout: float | httpx.Timeout | None = None,
    ) -> CheckResult:
        """May ``subject`` do ``permission`` on ``resource``? Errors raise (see :meth:`decide`)."""
        call = _v1.check(
            self._core.tokens,
            resource,
            permission,
            subject,
            context=context,
            via=via,
            consistency=consistency,
            with_tracing=with_tracing,
        )
        return await self._send(call, timeout)

    async def decide(
        self,
        resource: ObjectLike,
        permission: str,
        subject: SubjectLike,
        *,
        context: dict[str, Any] | None = None,
        via: Sequence[SubjectLike] | None = None,
        consistency: Consistency | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Decision:
        """A fail-closed decision: allowed only on an explicit ``HAS_PERMISSION``; never raises an error.

        A conditional answer, any error, a timeout or an outage is a deny whose ``reason`` says
        which (``conditional``, ``error``, ``timeout``, ``outage`` ...).
        """
        try:
            result = await self.check(
                resource,
                permission,
                subject,
                context=context,
                via=via,
                consistency=consistency,
                timeout=timeout,
            )
        except Exception as exc:  # noqa: BLE001 - fail closed: every error is a deny with its reason
            return decision_of_error(exc)
        return decision_of(result)

    async def allowed(
        self,
        resource: ObjectLike,
        permission: str,
        subject: SubjectLike,
        *,
        context: dict[str, Any] | None = None,
        via: Sequence[SubjectLike] | None = None,
        consistency: Consistency | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> bool:
        """``decide(...).allowed``: True only on an explicit ``HAS_PERMISSION``, else False."""
        decision = await self.decide(
            resource, permission, subject, context=context, via=via, consistency=consistency, timeout=timeout
        )
        return decision.allowed

    async def check_bulk(
        self,
        items: Mapping[K, BulkCheck] | Iterable[tuple[K, BulkCheck]],
        *,
        consistency: Consistency | None = None,
        with_tracing: bool = False,
        timeout: float | httpx.Timeout | None = None,
    ) -> dict[K, BulkCheckResult]:
        """Many checks, keyed by the caller's correlation ids, in the order given.

        A failing item keeps its own ``error`` (and is not ``allowed``). More than
        :data:`~rebac.client.MAX_BULK_ITEMS` items are sent in several requests, all at the
        snapshot of the first.
        """
        pairs = bulk_items(items)
        out: dict[K, BulkCheckResult] = {}
        for start in range(0, len(pairs), MAX_BULK_ITEMS):
            chunk = pairs[start : start + MAX_BULK_ITEMS]
            if out:
                consistency = Consistency.at_exact_snapshot(next(iter(out.values())).checked_at)
            call = _v1.check_bulk(
                self._core.tokens, [c for _, c in chunk], consistency=consistency, with_tracing=with_tracing
            )
            results = await self._send(call, timeout)
            out.update(zip((k for k, _ in chunk), results, strict=True))
        return out

    async def expand(
        self, resource: ObjectLike, permission: str, *, consistency: Consistency | None = None
    ) -> ExpandResult:
        """The userset tree of ``resource#permission``."""
        return await self._send(_v1.expand(self._core.tokens, resource, permission, consistency=consistency))

    def lookup_resources(
        self,
        resource_type: str,
        permission: str,
        subject: SubjectLike,
        *,
        context: dict[str, Any] | None = None,
        consistency: Consistency | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPageIterator[LookupResource]:
        """Every resource of ``resource_type`` the subject has ``permission`` on, page after page."""
        paged = _v1.lookup_resources(
            self._core.tokens,
            resource_type,
            permission,
            subject,
            context=context,
            consistency=consistency,
            page_size=page_size,
            cursor=cursor,
        )
        return self._pages(paged)

    def lookup_subjects(
        self,
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
    ) -> AsyncPageIterator[LookupSubject]:
        """Every subject of ``subject_type`` with ``permission`` on ``resource``, page after page."""
        paged = _v1.lookup_subjects(
            self._core.tokens,
            resource,
            permission,
            subject_type,
            subject_relation=subject_relation,
            context=context,
            consistency=consistency,
            include_wildcards=include_wildcards,
            page_size=page_size,
            cursor=cursor,
        )
        return self._pages(paged)

    # --- relationships ---------------------------------------------------------------------------

    async def write_relationships(
        self, updates: Iterable[Update | RelationshipLike], *, preconditions: Iterable[Precondition] = ()
    ) -> str:
        """Apply every update atomically (a plain relationship is a TOUCH); returns the token."""
        return await self._send(_v1.write_relationships(updates, preconditions))

    def read_relationships(
        self,
        relationship_filter: RelationshipFilter,
        *,
        consistency: Consistency | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPageIterator[Relationship]:
        """Every relationship matching the filter (``resource_type`` required), page after page."""
        paged = _v1.read_relationships(
            self._core.tokens,
            relationship_filter,
            consistency=consistency,
            page_size=page_size,
            cursor=cursor,
        )
        return self._pages(paged)

    async def delete_relationships(
        self,
        relationship_filter: RelationshipFilter,
        *,
        preconditions: Iterable[Precondition] = (),
        limit: int | None = None,
        allow_partial: bool = False,
    ) -> DeleteResult:
        """Delete every relationship matching the filter (at most ``limit``, if ``allow_partial``)."""
        call = _v1.delete_relationships(
            relationship_filter, preconditions=preconditions, limit=limit, allow_partial=allow_partial
        )
        return await self._send(call)

    async def import_relationships(
        self, relationships: Iterable[RelationshipLike] | AsyncIterable[RelationshipLike]
    ) -> ImportResult:
        """Load relationships (or text lines) atomically, streamed as NDJSON; never retried."""
        return await self._send(_v1.import_relationships(import_chunks(relationships)))

    def export_relationships(
        self, relationship_filter: RelationshipFilter | None = None, *, consistency: Consistency | None = None
    ) -> AsyncStream[Relationship]:
        """Every matching relationship at one snapshot, streamed (``token``: the snapshot's)."""
        return self._stream(
            _v1.export_relationships(self._core.tokens, relationship_filter, consistency=consistency)
        )

    # --- schema ----------------------------------------------------------------------------------

    async def write_schema(
        self, schema: str, *, force: bool = False, expected_version: int | None = None
    ) -> SchemaWriteResult:
        """Store a new schema version (409 if it would orphan relationships, unless ``force``)."""
        return await self._send(_v1.write_schema(schema, force=force, expected_version=expected_version))

    async def read_schema(self, version: int | None = None) -> SchemaInfo:
        """The current schema, or the stored ``version`` (:class:`~rebac.client.NotFound` if none)."""
        return await self._send(_v1.read_schema(version))

    async def diff_schema(
        self, comparison: str | None = None, *, from_version: int | None = None, to_version: int | None = None
    ) -> SchemaDiff:
        """A unified diff: the current schema (or ``from_version``) to ``comparison`` (or ``to_version``)."""
        return await self._send(_v1.diff_schema(comparison, from_version=from_version, to_version=to_version))

    async def schema_versions(self) -> list[SchemaVersion]:
        """Every stored schema version, oldest first."""
        return await self._send(_v1.schema_versions())

    # --- watch and health ------------------------------------------------------------------------

    def watch(
        self,
        start: str | None = None,
        *,
        object_types: Iterable[str] = (),
        limit: int | None = None,
        timeout_seconds: float | None = None,
    ) -> AsyncStream[WatchEvent]:
        """Changes after ``start`` (from now when ``None``), up to the server's checkpoint.

        Resume with ``watch(start=stream.token)``: the last ``changes_through`` seen.
        """
        read = (timeout_seconds or _WATCH_DEFAULT_SECONDS) + STREAM_GRACE_SECONDS
        call = _v1.watch(
            start, object_types=object_types, limit=limit, timeout_seconds=timeout_seconds, read_timeout=read
        )
        return self._stream(call)

    async def health(self) -> str:
        """``"ok"`` while the server process is alive."""
        return await self._send(_v1.health())

    async def ready(self) -> bool:
        """True when the server can serve (database reachable, migrations at head)."""
        try:
            return await self._send(_v1.ready()) == "ready"
        except (ProblemError, TransportError):
            return False

    # --- agent lifecycle -------------------------------------------------------------------------

    async def spawn_agent(
        self,
        agent: ObjectLike,
        principal: SubjectLike,
        grants: Iterable[Grant] = (),
        ttl: timedelta | None = DEFAULT_AGENT_TTL,
        principal_relation: str = "principal",
    ) -> str:
        """Write the agent's principal edge and every grant in ONE atomic write; returns the token.

        Everything expires after ``ttl`` (the relations must allow ``with expiration``);
        ``ttl=None`` writes grants that do not expire.
        """
        updates = spawn_updates(agent, principal, grants, ttl=ttl, principal_relation=principal_relation)
        if len(updates) > MAX_WRITE_UPDATES:
            raise ValueError(f"a spawn writes at most {MAX_WRITE_UPDATES} relationships atomically")
        return await self.write_relationships(updates)

    async def retire_agent(self, agent: ObjectLike, *, principal_relation: str = "principal") -> str:
        """Remove the agent's principal edges and grants (atomically when they fit in one write).

        Returns the token of the last write.
        """
        edges, as_subject = retire_filters(agent, principal_relation)
        full = Consistency.fully_consistent()
        grants = [rel async for rel in self.export_relationships(as_subject, consistency=full)]
        found = [rel async for rel in self.export_relationships(edges, consistency=full)] + grants
        if len(found) <= MAX_WRITE_UPDATES:
            if found:
                await self.write_relationships([Update.delete(rel) for rel in found])
            return (await self.delete_relationships(edges)).deleted_at
        token = (await self.delete_relationships(edges)).deleted_at
        for flt in by_type(agent, grants):
            token = (await self.delete_relationships(flt)).deleted_at
        return token
