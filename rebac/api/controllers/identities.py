"""``/v1/identities`` and ``/v1/reviews`` (scope ``admin``): the non-human identity inventory.

Thin: query parameters / DTO -> refs -> :mod:`rebac.services.inventory` -> DTO. Reads are fully
consistent (an admin view, not the check path).

``POST /v1/reviews`` records the review in the name of the subject the API key acts for, under the
rule of :mod:`rebac.services.inventory`: 404 for an identity no relationship names, 403
(``subject-required``) for a key acting for no subject, 403 (``not-permitted``) for an owner of
the identity (unless its type's ``permission review`` allows her) or for a reviewer the type's
``permission review`` denies. A body that still sends ``reviewer`` is a 400 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from rebac.api import convert
from rebac.api.auth import Principal, require_scope
from rebac.api.dto import (
    BlastRadiusSize,
    IdentitiesResponse,
    IdentityGrant,
    IdentityInfo,
    PrincipalEdge,
    ReviewInfo,
    ReviewRequest,
    ReviewResponse,
    ReviewsResponse,
    ReviewStateInfo,
    ZedToken,
)
from rebac.api.problems import problem_responses
from rebac.refs import SubjectRef, parse_subject, shown, shown_text, stored
from rebac.services.core import Services
from rebac.services.identities import DEFAULT_BLAST_BUDGET, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Identity
from rebac.services.types import Current, RelationshipVersion, Review

__all__ = ["IdentitiesController"]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _grant(version: RelationshipVersion) -> IdentityGrant:
    return IdentityGrant(shown(version.relationship), version.created.value, _time(version.committed_at))


def _review(review: Review) -> ReviewInfo:
    return ReviewInfo(
        review_id=review.review_id,
        subject=shown(review.subject),
        reviewer=shown_text(review.reviewer),
        revision=review.revision.value,
        reviewed_at=review.reviewed_at.isoformat(),
        fingerprint=review.fingerprint,
        grants=[shown_text(grant) for grant in review.grants],
        note=review.note,
    )


def _identity(identity: Identity) -> IdentityInfo:
    blast = identity.blast
    state = identity.review
    return IdentityInfo(
        subject=shown(identity.subject),
        delegates=identity.delegates,
        chain=[shown(s) for s in identity.chain],
        owners=[shown(s) for s in identity.owners],
        principals=[PrincipalEdge(shown(a), shown(p)) for a, p in identity.principals],
        grant_count=len(identity.grants),
        grants_truncated=identity.grants_truncated,
        decisions_known=identity.decisions_known,
        review=ReviewStateInfo(
            fingerprint=state.fingerprint,
            last_review=None if state.last is None else _review(state.last),
            added_since=[_grant(v) for v in state.added_since],
            removed_since=list(state.removed_since),
        ),
        flags=sorted(flag.value for flag in identity.flags),
        chain_error=identity.chain_error,
        created_revision=None if identity.created_revision is None else identity.created_revision.value,
        created_at=_time(identity.created_at),
        grants_expire_first=_time(identity.expires_first),
        grants_expire_last=_time(identity.expires_last),
        last_decision_at=_time(identity.last_decision_at),
        blast_radius=None
        if blast is None
        else BlastRadiusSize(blast.raw, blast.effective, blast.truncated, blast.message, blast.error),
    )


class IdentitiesController(Controller):
    """The non-human identity inventory and its reviews (scope ``admin``)."""

    path = "/v1"
    guards = [require_scope("admin")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["identities"]  # noqa: RUF012

    @get("/identities", operation_id="ListIdentities", responses=problem_responses(422))
    async def identities(
        self,
        *,
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        identity_type: Annotated[
            str | None, QueryParameter(name="type", description="Only this type.")
        ] = None,
        flagged: Annotated[bool, QueryParameter(description="Only identities with a flag.")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[str | None, QueryParameter(description="From the previous page.")] = None,
        blast_budget: Annotated[
            int, QueryParameter(name="blastBudget", ge=0, description="Per identity; 0 skips blast radius.")
        ] = DEFAULT_BLAST_BUDGET,
    ) -> IdentitiesResponse:
        """Every non-human identity with its chain, owners, grants, usage, reach and review state."""
        page = await services.inventory.identities(
            current,
            identity_type=identity_type,
            flagged_only=flagged,
            limit=limit,
            cursor=cursor,
            blast_budget=blast_budget or None,
        )
        return IdentitiesResponse(
            read_at=ZedToken(services.token_for(page.revision)),
            types=list(page.types),
            identities=[_identity(identity) for identity in page.identities],
            next_cursor=page.cursor,
        )

    @post("/reviews", operation_id="RecordReview", status_code=200, responses=problem_responses(422))
    async def record(
        self,
        data: JSONBody[ReviewRequest],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
    ) -> ReviewResponse:
        """Approve the identity's current grants (and delegation edges) at the head, as the key's subject.

        Refused with 403 for a key acting for no subject, for an owner of the identity (unless the
        type's ``permission review`` allows her) and for a reviewer that permission denies; 404
        for an identity that no relationship names. Nothing is written for a refused review.
        """
        target = convert.object_of(data.subject)
        review = await services.inventory.review_as(
            current,
            SubjectRef(target.type, target.id),
            reviewer=principal.subject,
            note=data.note,
            caller=principal.key_id,
        )
        return ReviewResponse(
            review=_review(review), reviewed_at=ZedToken(services.token_for(review.revision))
        )

    @get("/reviews", operation_id="ListReviews", responses=problem_responses())
    async def reviews(
        self,
        services: NamedDependency[Services],
        subject: Annotated[str | None, QueryParameter(description="Only this identity (agent:a7).")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[str | None, QueryParameter(description="From the previous page.")] = None,
    ) -> ReviewsResponse:
        """Stored reviews, newest first."""
        who = None if subject is None else stored(parse_subject(subject))
        page = await services.inventory.reviews(subject=who, limit=limit, cursor=cursor)
        return ReviewsResponse(reviews=[_review(r) for r in page.reviews], next_cursor=page.cursor)
