"""The non-human identity inventory and its reviews, as one service (DESIGN §7).

Reads are fully consistent: an admin view, not the check path. The inventory itself is computed
by :mod:`rebac.services.identities`; reviews are recorded and read through
:mod:`rebac.services.reviews`.
"""

from __future__ import annotations

from typing import Final

from rebac.errors import InvalidTokenError
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.engines import Current
from rebac.services.identities import (
    DEFAULT_BLAST_BUDGET,
    DEFAULT_PAGE_SIZE,
    InventoryPage,
    decision_lookup,
    list_identities,
)
from rebac.services.reviews import identity_store, record_review
from rebac.store.base import Consistency, ConsistencyMode, Review, TupleStore

__all__ = ["Inventory", "ReviewPage"]

_FULL: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)
_MAX_CURSOR_DIGITS: Final = 19


def _before_id(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.isdigit() or len(cursor) > _MAX_CURSOR_DIGITS:
        raise InvalidTokenError("the cursor is malformed")
    return int(cursor)


class ReviewPage:
    """One page of reviews, newest first; ``cursor`` resumes after it (``None`` on the last page)."""

    __slots__ = ("cursor", "reviews")

    def __init__(self, reviews: tuple[Review, ...], cursor: str | None) -> None:
        self.reviews = reviews
        self.cursor = cursor


class Inventory:
    """Non-human identities and their reviews over one store.

    Args:
        store: The open store (it must serve identity reads and reviews).
    """

    __slots__ = ("_store",)

    def __init__(self, store: TupleStore) -> None:
        self._store = store

    async def identities(
        self,
        current: Current,
        *,
        identity_type: str | None = None,
        flagged_only: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        blast_budget: int | None = DEFAULT_BLAST_BUDGET,
    ) -> InventoryPage:
        """One page of the inventory (see :func:`rebac.services.identities.list_identities`)."""
        store = identity_store(self._store)
        return await list_identities(
            current.engine,
            store,
            identity_type=identity_type,
            flagged_only=flagged_only,
            limit=limit,
            cursor=cursor,
            consistency=_FULL,
            decisions=decision_lookup(self._store.roles.decisions),
            blast_budget=blast_budget,
        )

    async def review(self, current: Current, subject: SubjectRef, *, reviewer: str, note: str = "") -> Review:
        """Approve the identity's current grants (and delegation edges) at the head revision.

        Raises:
            RefSyntaxError: the subject's id is malformed.
            InvalidInputError: not a plain identity of an inventory type, or a bad reviewer / note.
        """
        ObjectRef(subject.type, subject.id)  # validates the id syntax
        engine = current.engine
        return await record_review(
            identity_store(self._store),
            engine.model,
            subject,
            reviewer=reviewer,
            note=note,
            non_human_types=engine.settings.non_human_types,
        )

    async def reviews(
        self, *, subject: SubjectRef | None, limit: int, cursor: str | None = None
    ) -> ReviewPage:
        """Stored reviews, newest first (of ``subject`` only, when given).

        Raises:
            InvalidTokenError: a malformed cursor.
        """
        store = identity_store(self._store)
        found = await store.list_reviews(subject=subject, before_id=_before_id(cursor), limit=limit)
        next_cursor = str(found[-1].review_id) if len(found) == limit else None
        return ReviewPage(tuple(found), next_cursor)
