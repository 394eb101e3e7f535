"""DTOs of the identity inventory and reviews (``/v1/identities``, ``/v1/reviews``; additions).

Identities, principals and relationships are shown in the one canonical text syntax
(``agent:a7``, ``doc:1#viewer@agent:a7``); times are RFC 3339.
"""

from __future__ import annotations

import msgspec

from rebac.api.dto._core import ObjectReference, ZedToken, _In, _Out

__all__ = [
    "BlastRadiusSize",
    "IdentitiesResponse",
    "IdentityGrant",
    "IdentityInfo",
    "PrincipalEdge",
    "ReviewInfo",
    "ReviewRequest",
    "ReviewResponse",
    "ReviewStateInfo",
    "ReviewsResponse",
]


class IdentityGrant(_Out):
    """A relationship naming the identity, with the revision (and time) that created it."""

    relationship: str
    created_revision: int
    created_at: str | None = None


class PrincipalEdge(_Out):
    """``identity`` acts for ``principal``."""

    identity: str
    principal: str


class BlastRadiusSize(_Out):
    """Blast-radius entry counts; lower bounds when ``truncated`` (``message`` says where)."""

    raw: int
    effective: int
    truncated: bool = False
    message: str | None = None
    error: str | None = None


class ReviewInfo(_Out):
    """A stored review: who approved which relationships (``grants``) at which revision."""

    review_id: int
    subject: str
    reviewer: str
    revision: int
    reviewed_at: str
    fingerprint: str
    grants: list[str]
    note: str = ""


class ReviewStateInfo(_Out):
    """The identity against its newest review."""

    fingerprint: str
    last_review: ReviewInfo | None = None
    added_since: list[IdentityGrant] = msgspec.field(default_factory=list)
    removed_since: list[str] = msgspec.field(default_factory=list)


class IdentityInfo(_Out):
    """One non-human identity of the inventory."""

    subject: str
    delegates: bool
    chain: list[str]
    owners: list[str]
    principals: list[PrincipalEdge]
    grant_count: int
    grants_truncated: bool
    decisions_known: bool
    review: ReviewStateInfo
    flags: list[str]
    chain_error: str | None = None
    created_revision: int | None = None
    created_at: str | None = None
    grants_expire_first: str | None = None
    grants_expire_last: str | None = None
    last_decision_at: str | None = None
    blast_radius: BlastRadiusSize | None = None


class IdentitiesResponse(_Out):
    """``GET /v1/identities``: one page; ``nextCursor`` is absent on the last page."""

    read_at: ZedToken
    types: list[str]
    identities: list[IdentityInfo]
    next_cursor: str | None = None


class ReviewRequest(_In, forbid_unknown_fields=True):
    """``POST /v1/reviews``: approve the identity's current grants.

    The reviewer is the subject the API key acts for, not a field: a body that still sends
    ``reviewer`` (or any other unknown field) is refused with a 400 naming it.
    """

    subject: ObjectReference
    note: str = ""


class ReviewResponse(_Out):
    """The stored review and the token of the revision it approved."""

    review: ReviewInfo
    reviewed_at: ZedToken


class ReviewsResponse(_Out):
    """``GET /v1/reviews``: newest first; ``nextCursor`` is absent on the last page."""

    reviews: list[ReviewInfo]
    next_cursor: str | None = None
