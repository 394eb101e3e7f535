"""Identity-inventory reads and reviews of the memory store (a mixin of the store class)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from rebac.refs import SubjectRef
from rebac.store._common import validate_filter
from rebac.store.base import RelationshipFilter, RelationshipVersion, Review
from rebac.store.memory._rows import Row
from rebac.store.revision import Revision

__all__ = ["MemoryIdentityMixin"]


class MemoryIdentityMixin:
    """``IdentityReader`` and ``ReviewStore`` for :class:`rebac.store.memory.MemoryTupleStore`."""

    _clock: Callable[[], datetime]
    _rows: list[Row]
    _revisions: dict[int, datetime]
    _reviews: list[Review]

    def _candidates(self, flt: RelationshipFilter) -> Iterable[Row]:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def object_ids(
        self, object_type: str, *, revision: Revision, after: str | None = None, limit: int
    ) -> list[str]:
        """Ids of ``object_type`` named by a live relationship (resource or plain subject), sorted."""
        now = self._clock()
        ids: set[str] = set()
        for row in self._rows:
            if not row.visible(revision.value, now):
                continue
            rel = row.rel
            if rel.resource.type == object_type:
                ids.add(rel.resource.id)
            if (
                rel.subject.type == object_type
                and rel.subject.relation is None
                and not rel.subject.is_wildcard
            ):
                ids.add(rel.subject.id)
        return sorted(i for i in ids if after is None or i > after)[:limit]

    async def query_versions(
        self, flt: RelationshipFilter, *, revision: Revision, limit: int | None = None
    ) -> list[RelationshipVersion]:
        """Live relationships matching ``flt`` at ``revision`` (key order), with their provenance."""
        validate_filter(flt)
        now = self._clock()
        rows = {
            row.rel.key(): row
            for row in self._candidates(flt)
            if row.visible(revision.value, now) and flt.matches(row.rel)
        }
        found = [
            RelationshipVersion(row.rel, Revision(row.created), self._revisions.get(row.created))
            for _, row in sorted(rows.items())
        ]
        return found if limit is None else found[:limit]

    async def add_review(self, review: Review) -> Review:
        """Store ``review``; return it with its assigned id."""
        stored = replace(review, review_id=len(self._reviews) + 1)
        self._reviews.append(stored)
        return stored

    async def latest_reviews(self, subject_type: str, subject_ids: Sequence[str]) -> dict[str, Review]:
        """The newest review of each listed identity that has one."""
        wanted = set(subject_ids)
        return {
            review.subject.id: review
            for review in self._reviews
            if review.subject.type == subject_type and review.subject.id in wanted
        }

    async def list_reviews(
        self, *, subject: SubjectRef | None = None, before_id: int | None = None, limit: int
    ) -> list[Review]:
        """Reviews newest first, optionally of one subject, with ``review_id < before_id``."""
        found = [
            review
            for review in reversed(self._reviews)
            if (subject is None or review.subject == subject)
            and (before_id is None or review.review_id < before_id)
        ]
        return found[:limit]
