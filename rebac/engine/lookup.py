"""lookup_resources and lookup_subjects: candidate generation, then exact checks, paginated.

lookup_resources first tries the exact set computation of :mod:`rebac.engine.exact` (sound only
for caveat-free schema parts, see there); otherwise every candidate is decided by the same check
path as ``check`` (through the dispatcher chain), including caveats (conditional items carry the
missing parameter names), exclusions and wildcards. lookup_subjects of plain subjects first tries
the exact subject-set algebra of :mod:`rebac.engine.subject_sets` (wildcards with exclusions, so
an intersection with a wildcard is not enumerated); otherwise it decides every candidate by check.

Pages are ordered by id; the cursor is opaque and bound to the request and its revision, and a
page is never truncated silently: when ``limit`` items were returned and more may follow, a
cursor is returned.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rebac import limits, opaque
from rebac.engine.candidates import ReverseWalk, forward_subjects
from rebac.engine.exact import SchemaShape, exact_resources
from rebac.engine.reads import chunked
from rebac.engine.requests import CheckRequest, EvalContext, LookupResourcesRequest, LookupSubjectsRequest
from rebac.engine.results import (
    CheckResult,
    LookupPage,
    LookupResourceItem,
    LookupSubjectItem,
    Permissionship,
)
from rebac.engine.subject_sets import SubjectSet, exact_subjects
from rebac.errors import InvalidTokenError
from rebac.refs import WILDCARD, SubjectRef
from rebac.store.base import TupleReader
from rebac.store.revision import Revision

__all__ = [
    "Cursor",
    "ResourceSets",
    "cursor_revision",
    "lookup_resources",
    "lookup_subjects",
    "resources_digest",
    "subjects_digest",
]


class _Head(Protocol):
    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]: ...


@dataclass(frozen=True, slots=True)
class Cursor:
    """Decoded pagination cursor: the revision, a digest of the request, the last key returned."""

    revision: int
    request: str
    after: str

    def encode(self) -> str:
        """The opaque text form (see :mod:`rebac.opaque`)."""
        return opaque.Cursor(self.revision, self.request, (self.after,)).encode()

    @classmethod
    def decode(cls, text: str, request_digest: str) -> Cursor:
        """Parse and validate a cursor for the request with ``request_digest``.

        Raises:
            InvalidTokenError: if the cursor is malformed or belongs to another request.
        """
        found = opaque.Cursor.decode(text, request_digest, what="the lookup cursor")
        if found.revision is None:
            raise InvalidTokenError("the lookup cursor is malformed")
        return cls(found.revision, request_digest, found.after[0])


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def cursor_revision(cursor: str | None, request_digest: str) -> Revision | None:
    """The revision a cursor pins (so every page reads the same snapshot)."""
    if cursor is None:
        return None
    return Revision(Cursor.decode(cursor, request_digest).revision)


def resources_digest(request: LookupResourcesRequest) -> str:
    """The digest binding a lookup_resources cursor to its request."""
    s = request.subject
    return _digest(
        "lr", request.resource_type, request.permission, s.type, s.id, s.relation, request.ctx.context_key
    )


def subjects_digest(request: LookupSubjectsRequest) -> str:
    """The digest binding a lookup_subjects cursor to its request."""
    return _digest(
        "ls",
        request.resource.type,
        request.resource.id,
        request.permission,
        request.subject_type,
        request.subject_relation,
        request.ctx.context_key,
    )


def _page_size(limit: int | None) -> int:
    return limits.MAX_LOOKUP_PAGE_SIZE * 1000 if limit is None else max(1, limit)


@dataclass(frozen=True, slots=True)
class _Answer:
    ids: tuple[str, ...]
    expires_at: datetime | None


class ResourceSets:
    """Exact lookup_resources answers kept for the following pages of the same lookup.

    Only an answer computed without per-candidate checks (see :mod:`rebac.engine.exact`) that
    fills more than one page is kept. The key is every input of that answer: the revision, the
    schema hash and the request digest (type, permission, subject, caveat context); an entry is
    never served at or after the earliest expiration among the rows it was computed from. A
    bounded LRU, made by the composition root and handed to :func:`lookup_resources`.
    """

    __slots__ = ("_entries", "_max_entries", "_max_ids")

    def __init__(self, max_entries: int = 32, max_ids: int = 1_000_000) -> None:
        self._entries: OrderedDict[tuple[int, str, str], _Answer] = OrderedDict()
        self._max_entries = max(1, max_entries)
        self._max_ids = max_ids

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[int, str, str], now: datetime) -> tuple[str, ...] | None:
        """The sorted ids stored for ``key`` if still valid at ``now``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.ids

    def put(self, key: tuple[int, str, str], ids: tuple[str, ...], expires_at: datetime | None) -> None:
        """Keep the sorted ``ids`` for ``key`` (valid until ``expires_at``)."""
        if len(ids) > self._max_ids:
            return
        self._entries[key] = _Answer(ids, expires_at)
        self._entries.move_to_end(key)
        total = sum(len(e.ids) for e in self._entries.values())
        while len(self._entries) > self._max_entries or total > self._max_ids:
            _, dropped = self._entries.popitem(last=False)
            total -= len(dropped.ids)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()


def _after(ids: tuple[str, ...], after: str | None) -> tuple[str, ...]:
    return ids if after is None else ids[bisect.bisect_right(ids, after) :]


def _exact_page(
    ids: tuple[str, ...], size: int, ctx: EvalContext, digest: str
) -> LookupPage[LookupResourceItem]:
    yes = Permissionship.HAS_PERMISSION
    page = [LookupResourceItem(rid, yes) for rid in ids[:size]]
    more = len(ids) > size
    cursor = Cursor(ctx.revision.value, digest, page[-1].resource_id).encode() if more else None
    return LookupPage(tuple(page), cursor)


async def lookup_resources(
    reader: TupleReader,
    head: _Head,
    request: LookupResourcesRequest,
    *,
    sets: ResourceSets | None = None,
) -> LookupPage[LookupResourceItem]:
    """Resources of ``request.resource_type`` on which the subject has the permission.

    With ``sets``, an exact answer spanning several pages is computed once and the following
    pages are served from it.
    """
    ctx = request.ctx
    digest = resources_digest(request)
    after = Cursor.decode(request.cursor, digest).after if request.cursor else None
    size = _page_size(request.limit)
    memo_key = (ctx.revision.value, ctx.model.hash, digest)
    if sets is not None and after is not None:
        known = sets.get(memo_key, ctx.now)
        if known is not None:
            return _exact_page(_after(known, after), size, ctx, digest)
    walk = ReverseWalk(reader, ctx, request.subject)
    key = (request.resource_type, request.permission)
    exact = await exact_resources(walk, SchemaShape(ctx.model), ctx.model, request.subject, key)
    if exact is not None:
        ordered = tuple(sorted(exact))
        page = _exact_page(_after(ordered, after), size, ctx, digest)
        if sets is not None and page.cursor is not None:
            sets.put(memo_key, ordered, walk.expires_at)
        return page
    candidates = sorted(await walk.resources(*key))
    if after is not None:
        candidates = [c for c in candidates if c > after]
    items: list[LookupResourceItem] = []
    more = False
    for chunk in chunked(candidates):
        answers = await head.check(
            CheckRequest(
                request.resource_type,
                chunk,
                request.permission,
                request.subject,
                request.depth_remaining,
                ctx,
            )
        )
        for rid in chunk:
            result = answers[rid]
            if result.is_no:
                continue
            if len(items) == size:
                more = True
                break
            items.append(LookupResourceItem(rid, result.permissionship, result.missing))
        if more:
            break
    cursor = Cursor(ctx.revision.value, digest, items[-1].resource_id).encode() if more else None
    return LookupPage(tuple(items), cursor)


async def _check_subject(
    head: _Head, request: LookupSubjectsRequest, ctx: EvalContext, subject: SubjectRef
) -> CheckResult:
    answers = await head.check(
        CheckRequest(
            request.resource.type,
            (request.resource.id,),
            request.permission,
            subject,
            request.depth_remaining,
            ctx,
        )
    )
    return answers[request.resource.id]


_RANK = {
    Permissionship.NO_PERMISSION: 0,
    Permissionship.CONDITIONAL: 1,
    Permissionship.HAS_PERMISSION: 2,
}


def _subject_key(subject: SubjectRef) -> str:
    return str(subject)


def _decided(exact: SubjectSet, concrete: list[SubjectRef], wildcard: SubjectRef) -> list[LookupSubjectItem]:
    """The items of an exact answer: as the checks would list them (see :func:`lookup_subjects`)."""
    yes = Permissionship.HAS_PERMISSION
    items = [LookupSubjectItem(s, yes) for s in concrete if s.id in exact]
    if exact.wildcard:
        excluded = tuple(s for s in concrete if s.id not in exact)
        items.append(LookupSubjectItem(wildcard, yes, frozenset(), excluded))
    return items


async def lookup_subjects(
    reader: TupleReader, head: _Head, request: LookupSubjectsRequest
) -> LookupPage[LookupSubjectItem]:
    """Subjects with the permission on the resource; a reachable wildcard is reported as ``*``.

    The wildcard item lists the concrete subjects it excludes: those seen in the data whose own
    answer is weaker than the wildcard's (denied, or conditional under an unconditional wildcard,
    such a subject is then listed on its own too). It is decided by probing a subject id that
    occurs in no relationship.
    """
    ctx = request.ctx
    digest = subjects_digest(request)
    after = Cursor.decode(request.cursor, digest).after if request.cursor else None
    found = await forward_subjects(
        reader,
        ctx,
        resource_type=request.resource.type,
        resource_id=request.resource.id,
        name=request.permission,
        subject_type=request.subject_type,
        subject_relation=request.subject_relation,
    )
    wildcard = SubjectRef(request.subject_type, WILDCARD)
    has_wildcard = request.subject_relation is None and wildcard in found
    concrete = sorted((s for s in found if not s.is_wildcard), key=_subject_key)
    exact = None
    if request.subject_relation is None:
        exact = await exact_subjects(
            reader,
            ctx,
            resource_type=request.resource.type,
            resource_id=request.resource.id,
            name=request.permission,
            subject_type=request.subject_type,
            max_depth=request.depth_remaining,
        )
    decided = _decided(exact, concrete, wildcard) if exact is not None else []
    answers: list[tuple[SubjectRef, Permissionship]] = []
    for subject in concrete if exact is None else ():
        result = await _check_subject(head, request, ctx, subject)
        answers.append((subject, result.permissionship))
        if not result.is_no:
            decided.append(LookupSubjectItem(subject, result.permissionship, result.missing))
    if has_wildcard and exact is None:
        probe = await _check_subject(head, request, ctx, wildcard)
        if not probe.is_no:
            # Every subject whose own answer is weaker than the wildcard's is excepted from it
            # (a conditional one is then listed on its own).
            rank = _RANK[probe.permissionship]
            excluded = tuple(s for s, p in answers if _RANK[p] < rank)
            decided.append(LookupSubjectItem(wildcard, probe.permissionship, probe.missing, excluded))
    decided.sort(key=lambda item: _subject_key(item.subject))
    if after is not None:
        decided = [d for d in decided if _subject_key(d.subject) > after]
    size = _page_size(request.limit)
    more = len(decided) > size
    page = decided[:size]
    cursor = Cursor(ctx.revision.value, digest, _subject_key(page[-1].subject)).encode() if more else None
    return LookupPage(tuple(page), cursor)
