"""The non-human identity inventory and its reviews, as one service (DESIGN §7).

Reads are fully consistent: an admin view, not the check path. The inventory itself is computed
by :mod:`rebac.services.identities`; reviews are recorded and read through
:mod:`rebac.services.reviews`.

**Who may review an identity** (:meth:`Inventory.review_as`, ``POST /v1/reviews``). The reviewer
is the subject the caller's API key acts for, recorded as its canonical text (``user:bob``); a key
acting for no subject cannot review. Then, for the identity's type:

* when it declares a permission named ``review``, the reviewer must hold ``review`` on the
  identity: a real check at the review's revision, recorded in the decision log (source
  ``review``). The schema decides alone, owners included: ``permission review = owner`` lets an
  owner approve her own agent, ``permission review = auditor - owner`` forbids it;
* when it declares none, anyone may review except the identity's **owners** (the humans at the
  roots of its principal chain, as the inventory's ``owners`` lists them) and the identity
  itself. When the chain cannot be followed to its end (longer than the hop limit), the owners
  are unknown and the review is refused (fail closed).

An identity that no live relationship names does not exist (404); nothing is written for a
refused review.
"""

from __future__ import annotations

from typing import Final

from rebac.errors import InvalidTokenError, NotPermittedError, SubjectRequiredError
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.checks import Checks
from rebac.services.engines import Current
from rebac.services.identities import (
    DEFAULT_BLAST_BUDGET,
    DEFAULT_PAGE_SIZE,
    InventoryPage,
    decision_lookup,
    list_identities,
    ownership,
)
from rebac.services.reviews import identity_store, record_review
from rebac.store.base import Consistency, ConsistencyMode, Review, TupleStore
from rebac.store.revision import Revision

__all__ = ["REVIEW_PERMISSION", "Inventory", "ReviewPage"]

REVIEW_PERMISSION: Final = "review"
"""The permission that, when an identity's type declares it, decides who may review the identity."""
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
        checks: Decisions (the ``review`` permission check is one, recorded).
    """

    __slots__ = ("_checks", "_store")

    def __init__(self, store: TupleStore, checks: Checks) -> None:
        self._store = store
        self._checks = checks

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
        """Approve the identity's current grants as ``reviewer`` (free text), with no reviewer rule.

        This is the operator's path of the local ``rebac review`` command, which opens the
        database itself (and so could write any row anyway). The API records reviews through
        :meth:`review_as`, which applies the rule of the module docstring.

        Raises:
            InvalidInputError: not a plain identity of an inventory type, or a bad reviewer / note.
            NotFoundError: the identity does not exist.
        """
        engine = current.engine
        return await record_review(
            identity_store(self._store),
            engine.model,
            subject,
            reviewer=reviewer,
            note=note,
            non_human_types=engine.settings.non_human_types,
        )

    async def review_as(
        self,
        current: Current,
        subject: SubjectRef,
        *,
        reviewer: SubjectRef | None,
        note: str = "",
        caller: str | None = None,
    ) -> Review:
        """Approve the identity's current grants (and delegation edges) at the head, as ``reviewer``.

        Who may review is the rule of the module docstring; the review records ``str(reviewer)``.

        Args:
            current: The engine of the current schema.
            subject: The identity (a plain object of an inventory type).
            reviewer: The subject the caller's key acts for (``None``: it acts for none).
            note: Free text kept with the review.
            caller: The API key id, recorded with the ``review`` permission check.

        Raises:
            SubjectRequiredError: ``reviewer`` is ``None``.
            InvalidInputError: not a plain identity of an inventory type, or a bad note.
            NotFoundError: the identity does not exist.
            NotPermittedError: the reviewer may not review it (an owner, itself, lacking the
                schema's ``review`` permission, or owners unknown).
            EvaluationError: the ``review`` check could not be decided (fail closed).
        """
        if reviewer is None:
            raise SubjectRequiredError(
                "this API key acts for no subject, and a review is recorded in the name of one: "
                "use a key created with a subject (POST /v1/keys with "
                '"subject": {"objectType": "user", "objectId": "..."}), or set '
                "REBAC_PRESHARED_SUBJECT for the preshared key"
            )
        engine = current.engine

        async def authorize(revision: Revision) -> None:
            await self._may_review(current, subject, reviewer, revision, caller)

        return await record_review(
            identity_store(self._store),
            engine.model,
            subject,
            reviewer=str(reviewer),
            note=note,
            non_human_types=engine.settings.non_human_types,
            authorize=authorize,
        )

    async def _may_review(
        self,
        current: Current,
        identity: SubjectRef,
        reviewer: SubjectRef,
        revision: Revision,
        caller: str | None,
    ) -> None:
        """Refuse (raise) unless ``reviewer`` may review ``identity`` (the module docstring's rule)."""
        engine = current.engine
        details = {"subject": str(identity), "reviewer": str(reviewer)}
        if REVIEW_PERMISSION in engine.model.definition(identity.type).permissions:
            if reviewer.type not in engine.model.schema.definitions:
                raise NotPermittedError(
                    f"{reviewer} is of no type of the schema, so it holds no {REVIEW_PERMISSION!r} "
                    f"permission on {identity}",
                    details=details,
                )
            target = ObjectRef(identity.type, identity.id)
            decision = await self._checks.decide(
                current, caller, "review", revision, (target, REVIEW_PERMISSION, reviewer)
            )
            if not decision.result.allowed:
                raise NotPermittedError(
                    f"{reviewer} lacks the {REVIEW_PERMISSION!r} permission on {identity}: the schema's "
                    f"`permission {REVIEW_PERMISSION}` on {identity.type!r} decides who may review it",
                    details={**details, "decisionId": decision.decision_id},
                )
            return
        if reviewer == identity:
            raise NotPermittedError(f"{identity} may not review itself", details=details)
        owned = await ownership(engine, identity, revision=revision)
        if not owned.resolved:
            raise NotPermittedError(
                f"the owners of {identity} are unknown (its principal chain is longer than the hop "
                f"limit), so no one may review it unless {identity.type!r} declares "
                f"`permission {REVIEW_PERMISSION}`",
                details=details,
            )
        if reviewer in owned.owners:
            raise NotPermittedError(
                f"{reviewer} owns {identity} (a human at the root of its principal chain) and may not "
                f"review it; a schema that declares `permission {REVIEW_PERMISSION}` on "
                f"{identity.type!r} decides who may",
                details=details,
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
