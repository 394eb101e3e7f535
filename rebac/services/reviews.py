"""Reviews of non-human identities (DESIGN §7): what a reviewer approved, and what changed since.

A review approves the *reviewed relationships* of one identity as they are at one revision:

* its **grants** -- every live relationship naming it as a plain subject (``doc:1#viewer@agent:a``);
* its **delegation edges** -- its own ``acts_for`` relationships (``agent:a#principal@user:alice``),
  because a new principal changes what it may do as much as a new grant.

The review stores their canonical texts, sorted, and the sha256 of those lines (the
*fingerprint*). Afterwards, :func:`review_state` lists the relationships created after the
reviewed revision whose text the review did not approve (*added since*; these flag the identity)
and the approved ones that are gone (*removed since*; informational).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from rebac.engine.model import SchemaModel
from rebac.errors import InvalidInputError, LimitExceededError, NotFoundError, StoreError
from rebac.refs import Relationship, SubjectRef
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    IdentityReader,
    RelationshipFilter,
    RelationshipVersion,
    Review,
    ReviewStore,
    TupleReader,
    TupleStore,
)
from rebac.store.revision import Revision

__all__ = [
    "MAX_REVIEWED_RELATIONSHIPS",
    "MAX_REVIEW_NOTE_CHARS",
    "Authorize",
    "IdentityStore",
    "ReviewState",
    "Reviewed",
    "fingerprint",
    "identity_store",
    "identity_types",
    "read_reviewed",
    "record_review",
    "review_state",
]

MAX_REVIEWED_RELATIONSHIPS: Final = 1_000
"""Most reviewed relationships read per identity; an identity with more cannot be approved whole."""
MAX_REVIEW_NOTE_CHARS: Final = 4_000
_MAX_REVIEWER_CHARS: Final = 2_200
"""Room for the canonical text of any subject (two 64-character type segments and a 1024-character id)."""

Authorize = Callable[[Revision], Awaitable[None]]
"""Called with the review's revision once the identity is known to exist; raises to refuse it."""


class IdentityStore(TupleReader, IdentityReader, ReviewStore, Protocol):
    """What the inventory and reviews need from a store."""


class _Sources:
    """An :class:`IdentityStore` made of a store's reads and the objects serving its two roles."""

    __slots__ = ("_identities", "_reader", "_reviews")

    def __init__(self, reader: TupleReader, identities: IdentityReader, reviews: ReviewStore) -> None:
        self._reader = reader
        self._identities = identities
        self._reviews = reviews

    async def resolve(self, consistency: Consistency) -> Revision:
        return await self._reader.resolve(consistency)

    async def head_revision(self) -> Revision:
        return await self._reader.head_revision()

    def query(
        self,
        flt: RelationshipFilter,
        *,
        revision: Revision,
        limit: int | None = None,
        after: Relationship | None = None,
    ) -> AsyncIterator[Relationship]:
        return self._reader.query(flt, revision=revision, limit=limit, after=after)

    async def object_ids(
        self, object_type: str, *, revision: Revision, after: str | None = None, limit: int
    ) -> list[str]:
        return await self._identities.object_ids(object_type, revision=revision, after=after, limit=limit)

    async def query_versions(
        self, flt: RelationshipFilter, *, revision: Revision, limit: int | None = None
    ) -> list[RelationshipVersion]:
        return await self._identities.query_versions(flt, revision=revision, limit=limit)

    async def add_review(self, review: Review) -> Review:
        return await self._reviews.add_review(review)

    async def latest_reviews(self, subject_type: str, subject_ids: Sequence[str]) -> dict[str, Review]:
        return await self._reviews.latest_reviews(subject_type, subject_ids)

    async def list_reviews(
        self, *, subject: SubjectRef | None = None, before_id: int | None = None, limit: int
    ) -> list[Review]:
        return await self._reviews.list_reviews(subject=subject, before_id=before_id, limit=limit)


def identity_store(store: TupleStore) -> IdentityStore:
    """The identity reads and reviews of ``store`` (the roles it declares), with its reads.

    Raises:
        StoreError: the store serves no identity reads or no reviews.
    """
    roles = store.roles
    if roles.identities is None or roles.reviews is None:
        raise StoreError("this store does not support the identity inventory and reviews")
    return _Sources(store, roles.identities, roles.reviews)


@dataclass(frozen=True, slots=True)
class Reviewed:
    """The reviewed relationships of one identity at one revision.

    Attributes:
        grants: Relationships naming the identity as a plain subject, in text order.
        edges: Its own ``acts_for`` relationships (whom it acts for), in text order.
        named_by: Every relationship naming the identity that was read (for its creation time).
        truncated: More than ``MAX_REVIEWED_RELATIONSHIPS`` exist on a side; the lists are partial.
    """

    grants: tuple[RelationshipVersion, ...]
    edges: tuple[RelationshipVersion, ...]
    named_by: tuple[RelationshipVersion, ...]
    truncated: bool

    @property
    def relationships(self) -> tuple[RelationshipVersion, ...]:
        """Grants and delegation edges, in text order."""
        return tuple(sorted((*self.grants, *self.edges), key=lambda v: str(v.relationship)))

    @property
    def texts(self) -> tuple[str, ...]:
        """Canonical texts of the reviewed relationships, sorted."""
        return tuple(sorted(str(v.relationship) for v in (*self.grants, *self.edges)))


@dataclass(frozen=True, slots=True)
class ReviewState:
    """Where an identity stands against its newest review.

    Attributes:
        last: The newest review, or ``None`` (never reviewed).
        fingerprint: The fingerprint of the current reviewed relationships.
        added_since: Reviewed relationships created after ``last.revision`` that ``last`` did
            not approve (every current one when never reviewed is *not* listed: see ``last``).
        removed_since: Approved relationships that no longer exist.
    """

    last: Review | None
    fingerprint: str
    added_since: tuple[RelationshipVersion, ...]
    removed_since: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True when grants were added since the newest review."""
        return bool(self.added_since)


def fingerprint(texts: Sequence[str]) -> str:
    """Hex sha256 of the sorted texts, one per line."""
    return hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()


def identity_types(model: SchemaModel, extra: Sequence[str]) -> tuple[str, ...]:
    """Types in the inventory: those declaring ``acts_for`` plus ``extra`` ones the schema defines."""
    definitions = model.schema.definitions
    names = {name for name, definition in definitions.items() if definition.acts_for is not None}
    names.update(name for name in extra if name in definitions)
    return tuple(sorted(names))


async def _side(
    store: IdentityReader,
    flt_for: Callable[[tuple[str, ...]], RelationshipFilter],
    ids: Sequence[str],
    revision: Revision,
) -> tuple[dict[str, list[RelationshipVersion]], set[str]]:
    """Rows of one side for every id: one batched read; per-id reads only when it overflows."""
    budget = MAX_REVIEWED_RELATIONSHIPS
    batch = flt_for(tuple(ids))

    def owner(v: RelationshipVersion) -> str:
        return v.relationship.subject.id if batch.subject_ids else v.relationship.resource.id

    rows = await store.query_versions(batch, revision=revision, limit=budget * len(ids) + 1)
    out: dict[str, list[RelationshipVersion]] = defaultdict(list)
    for row in rows:
        out[owner(row)].append(row)
    if len(rows) <= budget * len(ids) and all(len(found) <= budget for found in out.values()):
        return out, set()
    out.clear()
    truncated: set[str] = set()
    for object_id in ids:
        found = await store.query_versions(flt_for((object_id,)), revision=revision, limit=budget + 1)
        if len(found) > budget:
            truncated.add(object_id)
        out[object_id] = found[:budget]
    return out, truncated


async def read_reviewed(
    store: IdentityReader, model: SchemaModel, object_type: str, ids: Sequence[str], revision: Revision
) -> dict[str, Reviewed]:
    """The reviewed relationships of every ``object_type:id`` at ``revision`` (two batched reads)."""
    acts_for = model.definition(object_type).acts_for
    grants, grants_cut = await _side(
        store,
        lambda chunk: RelationshipFilter(subject_type=object_type, subject_ids=chunk, subject_relation=None),
        ids,
        revision,
    )
    own, own_cut = await _side(
        store, lambda chunk: RelationshipFilter(resource_type=object_type, resource_ids=chunk), ids, revision
    )
    out: dict[str, Reviewed] = {}
    for object_id in ids:
        mine = grants.get(object_id, [])
        theirs = own.get(object_id, [])
        edges = [v for v in theirs if acts_for is not None and v.relationship.relation == acts_for]
        out[object_id] = Reviewed(
            grants=tuple(sorted(mine, key=lambda v: str(v.relationship))),
            edges=tuple(sorted(edges, key=lambda v: str(v.relationship))),
            named_by=(*mine, *theirs),
            truncated=object_id in grants_cut or object_id in own_cut,
        )
    return out


def review_state(last: Review | None, reviewed: Reviewed) -> ReviewState:
    """Compare the current reviewed relationships with the newest review."""
    texts = reviewed.texts
    if last is None:
        return ReviewState(None, fingerprint(texts), (), ())
    approved = set(last.grants)
    added = tuple(
        v for v in reviewed.relationships if v.created > last.revision and str(v.relationship) not in approved
    )
    removed = tuple(sorted(approved - set(texts)))
    return ReviewState(last, fingerprint(texts), added, removed)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def record_review(
    store: IdentityStore,
    model: SchemaModel,
    subject: SubjectRef,
    *,
    reviewer: str,
    note: str = "",
    non_human_types: Sequence[str] = (),
    revision: Revision | None = None,
    clock: Callable[[], datetime] = _utcnow,
    authorize: Authorize | None = None,
) -> Review:
    """Approve ``subject``'s current reviewed relationships (at ``revision``, default the head).

    Nothing is written unless every step passes: the input, the identity's existence, then
    ``authorize`` (the caller's rule for who may review it, given the review's revision).

    Raises:
        InvalidInputError: not a plain identity of an inventory type, or a bad reviewer / note.
        NotFoundError: no live relationship names the identity (as resource or plain subject).
        LimitExceededError: the identity has too many relationships to approve them whole.
        AuthError: ``authorize`` refused the review.
    """
    if subject.relation is not None or subject.is_wildcard:
        raise InvalidInputError(f"a review names a plain object, not {subject}")
    if subject.type not in identity_types(model, non_human_types):
        raise InvalidInputError(
            f"{subject.type!r} is not a non-human identity type (no acts_for, not in REBAC_NON_HUMAN_TYPES)"
        )
    reviewer = reviewer.strip()
    if not reviewer or len(reviewer) > _MAX_REVIEWER_CHARS:
        raise InvalidInputError(f"the reviewer must be 1 to {_MAX_REVIEWER_CHARS} characters")
    if len(note) > MAX_REVIEW_NOTE_CHARS:
        raise LimitExceededError(
            "the review note is too long",
            limit="MAX_REVIEW_NOTE_CHARS",
            maximum=MAX_REVIEW_NOTE_CHARS,
            actual=len(note),
        )
    if revision is None:
        revision = await store.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
    reviewed = (await read_reviewed(store, model, subject.type, [subject.id], revision))[subject.id]
    if not reviewed.named_by:
        raise NotFoundError(
            f"{subject} does not exist: no relationship names it", details={"subject": str(subject)}
        )
    if reviewed.truncated:
        raise LimitExceededError(
            f"{subject} has more than {MAX_REVIEWED_RELATIONSHIPS} relationships to review",
            limit="MAX_REVIEWED_RELATIONSHIPS",
            maximum=MAX_REVIEWED_RELATIONSHIPS,
            actual=MAX_REVIEWED_RELATIONSHIPS + 1,
        )
    if authorize is not None:
        await authorize(revision)
    texts = reviewed.texts
    review = Review(
        subject=SubjectRef(subject.type, subject.id),
        reviewer=reviewer,
        revision=revision,
        reviewed_at=clock(),
        note=note,
        fingerprint=fingerprint(texts),
        grants=texts,
    )
    return await store.add_review(review)
