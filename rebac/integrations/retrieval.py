"""Retrieval filtering (RAG): an agent only ever sees the documents its whole chain may read.

* :func:`filter_allowed` post-filters retrieved items with **one** bulk check (split only past the
  server's bulk limit, all at one snapshot);
* :func:`allowed_ids` pre-filters: the ids of every resource of a type the subject may reach, from
  lookup resources (every page), to put into the vector store's query filter.

Both apply the delegation intersection. For a subject whose type declares ``acts_for`` the server
caps it by every principal up its recorded chain; a ``via`` chain (an RFC 8693 ``act`` chain, the
agent first) is verified against those records too, and a chain that does not match keeps nothing.

Both fail closed, and differently, as a retrieval pipeline needs: :func:`filter_allowed` keeps
only items with an explicit ``HAS_PERMISSION`` and drops the rest (an item whose check failed, a
conditional answer, a whole request that failed: nothing of it is kept); :func:`allowed_ids`
raises the SDK's error when a page fails, because a partial id list would silently hide documents
the agent may read, or, worse, be mistaken for the complete list by a caller that caches it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from rebac.client import AsyncClient, BulkCheck, BulkCheckResult, Client, Permissionship, RebacClientError
from rebac.refs import ObjectRef, SubjectRef

__all__ = ["aallowed_ids", "afilter_allowed", "allowed_ids", "filter_allowed"]

log = logging.getLogger("rebac.retrieval")

T = TypeVar("T")
Subject = SubjectRef | str
Key = Callable[[T], ObjectRef | str]


def _items(
    subject: Subject, permission: str, items: Sequence[T], key: Key[T], via: Sequence[Subject]
) -> list[tuple[int, BulkCheck]]:
    return [
        (n, BulkCheck(resource=key(item), permission=permission, subject=subject, via=tuple(via)))
        for n, item in enumerate(items)
    ]


def _kept(items: Sequence[T], results: dict[int, BulkCheckResult]) -> list[T]:
    return [
        item
        for n, item in enumerate(items)
        if (found := results.get(n)) is not None
        and found.error is None
        and found.permissionship is Permissionship.HAS_PERMISSION
    ]


def _checked(
    client: Client, subject: Subject, permission: str, listed: list[T], *, key: Key[T], via: Sequence[Subject]
) -> list[T]:
    """The allowed ones of ``listed`` (one bulk check); a failed request raises."""
    if not listed:
        return []
    return _kept(listed, client.check_bulk(_items(subject, permission, listed, key, via)))


async def _achecked(
    client: AsyncClient,
    subject: Subject,
    permission: str,
    listed: list[T],
    *,
    key: Key[T],
    via: Sequence[Subject],
) -> list[T]:
    if not listed:
        return []
    return _kept(listed, await client.check_bulk(_items(subject, permission, listed, key, via)))


def filter_allowed(
    client: Client,
    subject: Subject,
    permission: str,
    items: Iterable[T],
    *,
    key: Key[T],
    via: Sequence[Subject] = (),
) -> list[T]:
    """The items ``subject`` (through ``via``) has ``permission`` on, in their order.

    Args:
        client: A sync SDK client (scope ``check``).
        subject: Who reads (``agent:researcher``).
        permission: The permission each item needs (``view``).
        items: The retrieved items (chunks, documents, hits).
        key: The resource of an item (``lambda hit: f"document:{hit.doc_id}"``).
        via: The delegation chain, agent first (optional).

    Returns:
        The allowed items; nothing at all when the check itself failed (logged).
    """
    listed = list(items)
    try:
        return _checked(client, subject, permission, listed, key=key, via=via)
    except RebacClientError as exc:
        log.warning("rebac retrieval filter failed, keeping nothing: %s", exc)
        return []


async def afilter_allowed(
    client: AsyncClient,
    subject: Subject,
    permission: str,
    items: Iterable[T],
    *,
    key: Key[T],
    via: Sequence[Subject] = (),
) -> list[T]:
    """:func:`filter_allowed` on the async client."""
    listed = list(items)
    try:
        return await _achecked(client, subject, permission, listed, key=key, via=via)
    except RebacClientError as exc:
        log.warning("rebac retrieval filter failed, keeping nothing: %s", exc)
        return []


def allowed_ids(
    client: Client,
    subject: Subject,
    resource_type: str,
    permission: str,
    *,
    via: Sequence[Subject] = (),
    page_size: int = 1000,
) -> list[str]:
    """The ids (as written) of every ``resource_type`` the subject has ``permission`` on, sorted.

    The server's lookup already caps a subject whose type declares ``acts_for`` by its recorded
    principals; a ``via`` chain is then verified on the found ids with one bulk check.

    Raises:
        RebacClientError: a page or the chain check failed (no partial list is ever returned).
    """
    found = [
        r.resource.id
        for r in client.lookup_resources(resource_type, permission, subject, page_size=page_size)
        if r.permissionship is Permissionship.HAS_PERMISSION
    ]
    if via:
        found = _checked(
            client, subject, permission, found, key=lambda i: ObjectRef(resource_type, i), via=via
        )
    return sorted(found)


async def aallowed_ids(
    client: AsyncClient,
    subject: Subject,
    resource_type: str,
    permission: str,
    *,
    via: Sequence[Subject] = (),
    page_size: int = 1000,
) -> list[str]:
    """:func:`allowed_ids` on the async client."""
    found = [
        r.resource.id
        async for r in client.lookup_resources(resource_type, permission, subject, page_size=page_size)
        if r.permissionship is Permissionship.HAS_PERMISSION
    ]
    if via:
        found = await _achecked(
            client, subject, permission, found, key=lambda i: ObjectRef(resource_type, i), via=via
        )
    return sorted(found)
