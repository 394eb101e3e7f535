"""View models of the identity inventory and the access-request queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from rebac.services.identities import Identity
from rebac.services.requests import AccessRequest
from rebac.services.types import DecisionRecord

__all__ = ["FLAG_LABELS", "IdentityView", "RequestView", "identity_view", "request_view", "trail_of"]

FLAG_LABELS: Final = {
    "never_reviewed": "never reviewed",
    "grants_added_since_review": "grants added since review",
    "unused": "unused",
    "orphan": "orphan",
    "principal_cycle": "principal cycle",
    "chain_too_long": "chain too long",
    "no_owner": "no owner",
}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class IdentityView:
    """One identity, as the inventory table shows it."""

    subject: str
    chain: tuple[str, ...]
    owners: tuple[str, ...]
    grants: int
    grants_truncated: bool
    added_since: tuple[str, ...]
    last_used: str
    created: str
    flags: tuple[tuple[str, str], ...]
    last_review: str
    reviewer: str
    blast: str
    chain_error: str


def identity_view(identity: Identity) -> IdentityView:
    """The view of one inventory entry (flags as ``(code, label)``, in a stable order)."""
    last = identity.review.last
    blast = identity.blast
    reach = ""
    if blast is not None:
        reach = blast.error or f"{blast.effective} effective / {blast.raw} raw" + (
            "+" if blast.truncated else ""
        )
    return IdentityView(
        subject=str(identity.subject),
        chain=tuple(str(s) for s in identity.chain if s != identity.subject),
        owners=tuple(str(s) for s in identity.owners),
        grants=len(identity.grants),
        grants_truncated=identity.grants_truncated,
        added_since=tuple(str(v.relationship) for v in identity.review.added_since),
        last_used=_when(identity.last_decision_at) or ("never" if identity.decisions_known else "unknown"),
        created=_when(identity.created_at),
        flags=tuple((f.value, FLAG_LABELS.get(f.value, f.value)) for f in sorted(identity.flags)),
        last_review="" if last is None else _when(last.reviewed_at),
        reviewer="" if last is None else last.reviewer,
        blast=reach,
        chain_error=identity.chain_error or "",
    )


@dataclass(frozen=True, slots=True)
class RequestView:
    """One access request, as the queue shows it."""

    request_id: str
    status: str
    subject: str
    chain: tuple[str, ...]
    action: str
    resource: str
    relation: str
    justification: str
    requested_until: str
    requester: str
    created: str
    expires: str
    decided_by: str
    decided_at: str
    reason: str
    grant_until: str
    pending: bool


def request_view(request: AccessRequest) -> RequestView:
    """The view of an :class:`~rebac.services.requests.AccessRequest`."""
    return RequestView(
        request_id=request.request_id,
        status=request.status,
        subject=request.subject,
        chain=tuple(request.chain),
        action=request.action,
        resource=request.resource,
        relation=request.relation,
        justification=request.justification,
        requested_until=_when(request.requested_until),
        requester=request.requester or "",
        created=_when(request.created_at),
        expires=_when(request.expires_at),
        decided_by=request.decided_by or "",
        decided_at=_when(request.decided_at),
        reason=request.reason,
        grant_until=_when(request.grant_expires_at),
        pending=request.status == "pending",
    )


def trail_of(request_id: str, records: list[DecisionRecord]) -> list[DecisionRecord]:
    """The request's own steps among ``records`` (``access_request.*`` naming its id), oldest first."""
    steps = []
    for record in records:
        step = (record.context or {}).get("access_request")
        if (
            record.source.startswith("access_request.")
            and isinstance(step, dict)
            and step.get("id") == request_id
        ):
            steps.append(record)
    return sorted(steps, key=lambda r: r.key)
