"""Lookups for delegated subjects: effective reach, paginated (see :mod:`rebac.engine.delegation`).

* ``lookup_resources`` for a subject whose type declares ``acts_for`` returns its *effective*
  reach: the raw lookup's resources, filtered by the delegated check (the subject's principal chain
  is read once; the principals' raw checks are batched per chunk of resources).
* ``lookup_subjects`` for an ``acts_for`` subject type returns only subjects whose delegated check
  holds. A raw wildcard (``agent:*``) does not mean "every agent" under delegation, so it is
  replaced by the concrete identities it may stand for: those with at least one live principal
  edge (an identity without one is an orphan, always denied).

Pages are ordered like the raw lookups; cursors are opaque, pinned to the revision and bound to
the delegated request (a raw lookup's cursor is refused, and vice versa). A page is never
truncated silently: a cursor is returned exactly when another allowed item follows.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from rebac import limits
from rebac.engine.delegation import Head, capped_results, resolve_principals
from rebac.engine.lookup import (
    Cursor,
    ResourceSets,
    lookup_resources,
    lookup_subjects,
    resources_digest,
    subjects_digest,
)
from rebac.engine.reads import chunked
from rebac.engine.requests import EvalContext, LookupResourcesRequest, LookupSubjectsRequest
from rebac.engine.results import (
    CheckResult,
    LookupPage,
    LookupResourceItem,
    LookupSubjectItem,
)
from rebac.refs import SubjectRef
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = [
    "delegated_resources_digest",
    "delegated_subjects_digest",
    "lookup_resources_delegated",
    "lookup_subjects_delegated",
]


def _bind(raw_digest: str) -> str:
    return hashlib.sha256(f"delegated:{raw_digest}".encode()).hexdigest()[:32]


def delegated_resources_digest(request: LookupResourcesRequest) -> str:
    """The digest binding a delegated lookup_resources cursor to its request."""
    return _bind(resources_digest(request))


def delegated_subjects_digest(request: LookupSubjectsRequest) -> str:
    """The digest binding a delegated lookup_subjects cursor to its request."""
    return _bind(subjects_digest(request))


def _page_size(limit: int | None) -> int:
    return limits.MAX_LOOKUP_PAGE_SIZE * 1000 if limit is None else max(1, limit)


async def lookup_resources_delegated(
    reader: TupleReader,
    head: Head,
    request: LookupResourcesRequest,
    *,
    max_hops: int,
    sets: ResourceSets | None = None,
) -> LookupPage[LookupResourceItem]:
    """Resources the subject AND every principal up its chain can reach (one page).

    ``sets`` keeps the subject's exact raw answer between the raw pages (see
    :class:`~rebac.engine.lookup.ResourceSets`).

    Raises:
        DelegationError: the subject's principal chain is longer than ``max_hops``.
        InvalidTokenError: the cursor is malformed or belongs to another request.
    """
    ctx = request.ctx
    digest = delegated_resources_digest(request)
    after = Cursor.decode(request.cursor, digest).after if request.cursor else None
    graph = await resolve_principals(reader, ctx, request.subject, max_hops)
    if graph.cyclic:
        return LookupPage()
    size = _page_size(request.limit)
    raw_digest = resources_digest(request)
    raw_limit = None if request.limit is None else max(2 * size, limits.CHUNK_SIZE)
    raw_cursor = None if after is None else Cursor(ctx.revision.value, raw_digest, after).encode()
    items: list[LookupResourceItem] = []
    more = False
    while not more:
        page = await lookup_resources(
            reader, head, replace(request, limit=raw_limit, cursor=raw_cursor), sets=sets
        )
        raw = {item.resource_id: CheckResult(item.permissionship, item.missing) for item in page.items}
        for chunk in chunked(list(raw)):
            known = {rid: raw[rid] for rid in chunk}
            verdicts = await capped_results(
                head,
                graph,
                ctx,
                (request.resource_type, chunk, request.permission, request.depth_remaining),
                known,
            )
            for rid in chunk:
                verdict = verdicts[rid]
                if verdict.is_no:
                    continue
                if len(items) == size:
                    more = True
                    break
                items.append(LookupResourceItem(rid, verdict.permissionship, verdict.missing))
            if more:
                break
        if page.cursor is None:
            break
        raw_cursor = page.cursor
    cursor = Cursor(ctx.revision.value, digest, items[-1].resource_id).encode() if more else None
    return LookupPage(tuple(items), cursor)


async def _with_principals(reader: TupleReader, ctx: EvalContext, subject_type: str) -> set[SubjectRef]:
    """Every ``subject_type`` object with at least one live, unexpired principal edge."""
    relation = ctx.model.definition(subject_type).acts_for
    flt = RelationshipFilter(resource_type=subject_type, relation=relation, subject_relation=None)
    found: set[SubjectRef] = set()
    async for rel in reader.query(flt, revision=ctx.revision):
        if len(found) % limits.CHUNK_SIZE == 0:
            ctx.check_deadline()
        if not rel.is_expired(ctx.now) and not rel.subject.is_wildcard:
            found.add(SubjectRef(subject_type, rel.resource.id))
    return found


async def lookup_subjects_delegated(
    reader: TupleReader, head: Head, request: LookupSubjectsRequest, *, max_hops: int
) -> LookupPage[LookupSubjectItem]:
    """Subjects of an ``acts_for`` type whose delegated check holds (one page; no wildcard item).

    Raises:
        DelegationError: a candidate's principal chain is longer than ``max_hops``.
        InvalidTokenError: the cursor is malformed or belongs to another request.
    """
    ctx = request.ctx
    digest = delegated_subjects_digest(request)
    after = Cursor.decode(request.cursor, digest).after if request.cursor else None
    known: dict[SubjectRef, CheckResult] = {}
    wildcard = False
    raw_cursor: str | None = None
    while True:
        page = await lookup_subjects(reader, head, replace(request, limit=None, cursor=raw_cursor))
        for item in page.items:
            if item.subject.is_wildcard:
                wildcard = True
            else:
                known[item.subject] = CheckResult(item.permissionship, item.missing)
        if page.cursor is None:
            break
        raw_cursor = page.cursor
    candidates = set(known)
    if wildcard:
        candidates |= await _with_principals(reader, ctx, request.subject_type)
    ordered = sorted((s for s in candidates if after is None or str(s) > after), key=str)
    size = _page_size(request.limit)
    resource = request.resource
    items: list[LookupSubjectItem] = []
    more = False
    for subject in ordered:
        graph = await resolve_principals(reader, ctx, subject, max_hops)
        raw = {resource.id: known[subject]} if subject in known else None
        verdict = (
            await capped_results(
                head,
                graph,
                ctx,
                (resource.type, (resource.id,), request.permission, request.depth_remaining),
                raw,
            )
        )[resource.id]
        if verdict.is_no:
            continue
        if len(items) == size:
            more = True
            break
        items.append(LookupSubjectItem(subject, verdict.permissionship, verdict.missing))
    cursor = Cursor(ctx.revision.value, digest, str(items[-1].subject)).encode() if more else None
    return LookupPage(tuple(items), cursor)
