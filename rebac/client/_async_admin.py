"""The async client's AuthZEN and admin methods (decisions, identities, reviews, blast radius, keys)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rebac.client import _admin as a
from rebac.client import _analysis as lp
from rebac.client import _requests as r
from rebac.client._admin_models import (
    ApiKey,
    BlastRadius,
    CreatedKey,
    DecisionRecord,
    DecisionStats,
    Identity,
    Review,
    RevokedKey,
)
from rebac.client._analysis import LeastPrivilegeReport, WhatIfReport
from rebac.client._async_base import AsyncBase
from rebac.client._encode import ObjectLike, SubjectLike, entity_json
from rebac.client._iterators import AsyncPageIterator, AsyncStream
from rebac.client._models import Consistency, Entity, Evaluation, EvaluationItem, Semantic
from rebac.client._requests import AccessRequest, AccessRequestStatus

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncAdmin"]


class AsyncAdmin(AsyncBase):
    """AuthZEN 1.0 and the admin endpoints (see :class:`rebac.client.AsyncClient`)."""

    # --- AuthZEN ---------------------------------------------------------------------------------

    async def evaluate(
        self,
        subject: Entity | SubjectLike,
        action: str,
        resource: Entity | ObjectLike,
        *,
        context: dict[str, Any] | None = None,
        consistency: Consistency | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Evaluation:
        """One AuthZEN decision (a deny is ``decision=False``; read-your-writes via the header)."""
        call = a.evaluate(
            self._core.tokens, subject, action, resource, context=context, consistency=consistency
        )
        return await self._send(call, timeout)

    async def evaluate_many(
        self,
        evaluations: Iterable[EvaluationItem],
        *,
        subject: Entity | SubjectLike | None = None,
        action: str | None = None,
        resource: Entity | ObjectLike | None = None,
        context: dict[str, Any] | None = None,
        semantic: Semantic = "execute_all",
        consistency: Consistency | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> list[Evaluation]:
        """Many AuthZEN decisions at one snapshot; ``semantic`` may stop at the first deny or permit."""
        call = a.evaluate_many(
            self._core.tokens,
            evaluations,
            subject=subject,
            action=action,
            resource=resource,
            context=context,
            semantic=semantic,
            consistency=consistency,
        )
        return await self._send(call, timeout)

    def search_subjects(
        self,
        subject_type: str,
        action: str,
        resource: Entity | ObjectLike,
        *,
        context: dict[str, Any] | None = None,
        page_size: int | None = None,
        consistency: Consistency | None = None,
    ) -> AsyncPageIterator[Entity]:
        """Subjects of ``subject_type`` that may do ``action`` on ``resource``, every page."""
        paged = a.search(
            self._core.tokens,
            "subject",
            {"type": subject_type},
            action,
            entity_json(resource),
            context=context,
            page_size=page_size,
            consistency=consistency,
        )
        return self._pages(paged)

    def search_resources(
        self,
        subject: Entity | SubjectLike,
        action: str,
        resource_type: str,
        *,
        context: dict[str, Any] | None = None,
        page_size: int | None = None,
        consistency: Consistency | None = None,
    ) -> AsyncPageIterator[Entity]:
        """Resources of ``resource_type`` on which ``subject`` may do ``action``, every page."""
        paged = a.search(
            self._core.tokens,
            "resource",
            entity_json(subject),
            action,
            {"type": resource_type},
            context=context,
            page_size=page_size,
            consistency=consistency,
        )
        return self._pages(paged)

    async def search_actions(
        self,
        subject: Entity | SubjectLike,
        resource: Entity | ObjectLike,
        *,
        context: dict[str, Any] | None = None,
        consistency: Consistency | None = None,
    ) -> list[str]:
        """The actions (permissions) ``subject`` may take on ``resource``."""
        return await self._send(
            a.search_actions(self._core.tokens, subject, resource, context=context, consistency=consistency)
        )

    async def authzen_configuration(self) -> dict[str, Any]:
        """The PDP's metadata (``/.well-known/authzen-configuration``)."""
        return await self._send(a.well_known())

    # --- decisions -------------------------------------------------------------------------------

    def decisions(
        self,
        *,
        subject: SubjectLike | None = None,
        resource: ObjectLike | None = None,
        permission: str | None = None,
        result: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPageIterator[DecisionRecord]:
        """Recorded decisions, newest first, every page (``result``: allowed, denied, conditional, error)."""
        params = a.decision_filters(
            subject=subject, resource=resource, permission=permission, result=result, since=since, until=until
        )
        return self._pages(a.decisions(params, page_size=page_size, cursor=cursor))

    async def decision(self, decision_id: str) -> DecisionRecord:
        """One recorded decision by its id (:class:`~rebac.client.NotFound` when unknown)."""
        return await self._send(a.decision(decision_id))

    def export_decisions(
        self,
        *,
        subject: SubjectLike | None = None,
        resource: ObjectLike | None = None,
        permission: str | None = None,
        result: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> AsyncStream[DecisionRecord]:
        """Every matching decision (at most ``limit``), newest first, streamed as NDJSON."""
        params = a.decision_filters(
            subject=subject, resource=resource, permission=permission, result=result, since=since, until=until
        )
        return self._stream(a.export_decisions(params, limit=limit))

    async def decision_stats(self) -> DecisionStats:
        """The decision recorder's counters."""
        return await self._send(a.decision_stats())

    # --- identities, reviews, blast radius ---------------------------------------------------------

    def identities(
        self,
        *,
        identity_type: str | None = None,
        flagged: bool = False,
        page_size: int | None = None,
        blast_budget: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPageIterator[Identity]:
        """Every non-human identity of the inventory, every page."""
        paged = a.identities(
            identity_type=identity_type,
            flagged=flagged,
            page_size=page_size,
            blast_budget=blast_budget,
            cursor=cursor,
        )
        return self._pages(paged)

    async def record_review(self, subject: ObjectLike, *, note: str = "") -> Review:
        """Approve the identity's current grants (the server records the key's subject as reviewer)."""
        return await self._send(a.record_review(subject, note=note))

    def reviews(
        self, *, subject: ObjectLike | None = None, page_size: int | None = None, cursor: str | None = None
    ) -> AsyncPageIterator[Review]:
        """Stored reviews, newest first, every page."""
        return self._pages(a.reviews(subject=subject, page_size=page_size, cursor=cursor))

    async def blast_radius(
        self,
        subject: SubjectLike | None = None,
        *,
        resource: ObjectLike | None = None,
        reverse: bool = False,
        resource_type: str | None = None,
        permission: str | None = None,
        budget: int | None = None,
        raw_only: bool = False,
        consistency: Consistency | None = None,
    ) -> BlastRadius:
        """What ``subject`` can reach, or (``reverse=True``) who can reach ``resource``."""
        call = a.blast_radius(
            self._core.tokens,
            subject,
            resource=resource,
            reverse=reverse,
            resource_type=resource_type,
            permission=permission,
            budget=budget,
            raw_only=raw_only,
            consistency=consistency,
        )
        return await self._send(call)

    async def blast_radius_graph(
        self,
        subject: SubjectLike | None = None,
        *,
        graph_format: a.GraphFormat = "json-graph",
        resource: ObjectLike | None = None,
        reverse: bool = False,
        resource_type: str | None = None,
        permission: str | None = None,
        budget: int | None = None,
        raw_only: bool = False,
        consistency: Consistency | None = None,
    ) -> str:
        """The blast radius as a graph document: networkx node-link JSON or GraphML, as text."""
        call = a.blast_radius_graph(
            self._core.tokens,
            subject,
            graph_format,
            resource=resource,
            reverse=reverse,
            resource_type=resource_type,
            permission=permission,
            budget=budget,
            raw_only=raw_only,
            consistency=consistency,
        )
        return await self._send(call)

    # --- analyses -------------------------------------------------------------------------------

    async def least_privilege(
        self,
        subject: SubjectLike,
        *,
        since: str | timedelta = "30d",
        timeout: float | httpx.Timeout | None = None,
    ) -> LeastPrivilegeReport:
        """What ``subject`` holds against what it used in the window (``30d``, ``24h``; or a timedelta).

        ``removable`` lists direct grants the server proved safe to remove: every check the subject
        (and each subject acting for it) was allowed in the window is still allowed without them.
        """
        return await self._send(lp.least_privilege(subject, since=since), timeout)

    async def what_if(
        self,
        *,
        schema: str | None = None,
        relationships: str | None = None,
        since: str | timedelta = "24h",
        limit: int | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> WhatIfReport:
        """Replay the window's logged decisions under a proposed schema and/or relationship changes.

        ``relationships`` is a changes text (``touch REL``, ``delete REL`` or a bare ``REL`` per
        line). The server replays on an overlay of its snapshot and changes nothing.
        """
        call = lp.what_if(schema=schema, relationships=relationships, since=since, limit=limit)
        return await self._send(call, timeout)

    # --- access requests (AuthZEN ARAP) ------------------------------------------------------------

    async def request_access(
        self,
        subject: Entity | SubjectLike,
        action: str,
        resource: Entity | ObjectLike,
        *,
        via: Sequence[Entity | SubjectLike] | None = None,
        context: dict[str, Any] | None = None,
        justification: str = "",
        relation: str | None = None,
        requested_until: datetime | str | None = None,
        duration: timedelta | int | None = None,
        evaluation_id: str | None = None,
        denial_expires_at: datetime | str | None = None,
    ) -> AccessRequest:
        """Ask for a denied access; the key's subject must be ``subject`` or one of its principals.

        ``subject`` is the identity to be granted (an agent; its chain as ``via`` or in
        ``context``); the grant writes ``relation`` (default: ``action``) until
        ``requested_until`` or for ``duration`` (the server's default and cap apply).
        """
        call = r.request_access(
            subject,
            action,
            resource,
            via=via,
            context=context,
            justification=justification,
            relation=relation,
            requested_until=requested_until,
            duration=duration,
            evaluation_id=evaluation_id,
            denial_expires_at=denial_expires_at,
        )
        return await self._send(call)

    async def access_request(self, request_id: str) -> AccessRequest:
        """One request (:class:`~rebac.client.NotFound` when unknown or not the key's to see)."""
        return await self._send(r.access_request(request_id))

    def access_requests(
        self, *, status: AccessRequestStatus | None = None, cursor: str | None = None
    ) -> AsyncPageIterator[AccessRequest]:
        """The requests the key's subject may see (every one for an admin key), newest first."""
        return self._pages(r.access_requests(status=status, cursor=cursor))

    async def approve_access_request(self, request_id: str, *, reason: str = "") -> AccessRequest:
        """Approve as the key's subject: the time-bound grant is written with the new state."""
        return await self._send(r.decide_access_request(request_id, "approve", reason=reason))

    async def deny_access_request(self, request_id: str, *, reason: str = "") -> AccessRequest:
        """Deny as the key's subject; nothing is granted."""
        return await self._send(r.decide_access_request(request_id, "deny", reason=reason))

    async def cancel_access_request(self, request_id: str) -> AccessRequest:
        """Withdraw a pending request (its requester or its subject)."""
        return await self._send(r.cancel_access_request(request_id))

    # --- keys ------------------------------------------------------------------------------------

    async def create_key(
        self, scopes: Iterable[str], name: str = "", subject: ObjectLike | None = None
    ) -> CreatedKey:
        """A new scoped API key; ``subject`` is the identity it acts as (its secret is shown once)."""
        return await self._send(a.create_key(scopes, name, subject))

    async def list_keys(self) -> list[ApiKey]:
        """Every stored key (never a secret)."""
        return await self._send(a.list_keys())

    async def revoke_key(self, key_id: str) -> RevokedKey:
        """Revoke a key (:class:`~rebac.client.NotFound` when no active key has that id)."""
        return await self._send(a.revoke_key(key_id))
