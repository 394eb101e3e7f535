"""Access requests (AuthZEN ARAP, ``/access/v1/requests``): typed values and request builders.

A denied subject (or one of its principals) asks for access; a subject holding the approval
permission on the resource approves or denies it; the requester or the subject may cancel it.
The server names the requester and the approver from the API key's subject, so no call here
takes one. Times are aware datetimes; subjects and resources are AuthZEN entities (free ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import quote

import msgspec

from rebac.client._call import Call, Page, Paged, decoder, json_decoder
from rebac.client._config import Idempotency
from rebac.client._encode import ObjectLike, SubjectLike, entity_json
from rebac.client._models import Entity

__all__ = [
    "ACCESS_REQUEST_STATUSES",
    "AccessGrant",
    "AccessRequest",
    "AccessRequestStatus",
    "access_request",
    "access_requests",
    "cancel_access_request",
    "decide_access_request",
    "request_access",
]

AccessRequestStatus = Literal["pending", "approved", "denied", "cancelled", "expired"]
"""Where a request stands; every status but ``pending`` is final."""

ACCESS_REQUEST_STATUSES: Final = ("pending", "approved", "denied", "cancelled", "expired")

_PATH: Final = "/access/v1/requests"


class AccessGrant(msgspec.Struct, frozen=True, kw_only=True):
    """The time-bound relationship an approval wrote.

    Attributes:
        relation: The granted relation (``resource#relation@subject``).
        expires_at: When the grant stops counting.
        revision: The revision the grant was written at.
    """

    relation: str
    revision: int
    expires_at: datetime | None = None


class AccessRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One access request and where it stands.

    Attributes:
        id: The request (task) id.
        status: ``pending``, ``approved``, ``denied``, ``cancelled`` or ``expired``.
        status_endpoint: The URL to poll.
        expires_at: When a pending request expires if nobody acts on it.
        subject: The identity to be granted (the acting agent).
        resource: The resource.
        action: The action (permission) asked for.
        relation: The relation an approval grants.
        chain: The subject's principals as claimed, nearest first.
        justification: Why, in the requester's words.
        requested_until: When the access would end.
        requester: The key subject that asked (``agent:bot``, ``user:alice``).
        evaluation_id: The denied evaluation the request answers.
        created_at: When it was asked.
        decided_by: Who approved, denied or cancelled it.
        decided_at: When.
        reason: The decider's note.
        grant: The grant an approval wrote.
        cancel_url: The cancel link while pending.
    """

    id: str
    status: AccessRequestStatus
    status_endpoint: str
    expires_at: datetime
    subject: Entity
    resource: Entity
    action: str
    relation: str
    chain: list[Entity]
    justification: str
    requested_until: datetime
    requester: str | None = None
    evaluation_id: str | None = None
    created_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    grant: AccessGrant | None = None
    cancel_url: str | None = None

    @property
    def pending(self) -> bool:
        """True while nobody has acted on it and it has not expired."""
        return self.status == "pending"


# --- the wire ---------------------------------------------------------------------------------------


class _Links(msgspec.Struct):
    cancel: str | None = None


class _Task(msgspec.Struct):
    id: str
    status: AccessRequestStatus
    status_endpoint: str
    expires_at: datetime
    links: _Links | None = None


class _Action(msgspec.Struct):
    name: str


class _View(msgspec.Struct):
    subject: Entity
    resource: Entity
    action: _Action
    relation: str
    chain: list[Entity]
    justification: str
    requested_until: datetime
    requester: str | None = None
    evaluation_id: str | None = None
    created_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    grant: AccessGrant | None = None


class _Response(msgspec.Struct):
    task: _Task
    request: _View


class _List(msgspec.Struct):
    requests: list[_Response]
    next_token: str = ""


def _request_of(wire: _Response) -> AccessRequest:
    task, view = wire.task, wire.request
    return AccessRequest(
        id=task.id,
        status=task.status,
        status_endpoint=task.status_endpoint,
        expires_at=task.expires_at,
        subject=view.subject,
        resource=view.resource,
        action=view.action.name,
        relation=view.relation,
        chain=view.chain,
        justification=view.justification,
        requested_until=view.requested_until,
        requester=view.requester,
        evaluation_id=view.evaluation_id,
        created_at=view.created_at,
        decided_by=view.decided_by,
        decided_at=view.decided_at,
        reason=view.reason,
        grant=view.grant,
        cancel_url=task.links.cancel if task.links else None,
    )


_ONE: Final = json_decoder(_Response, _request_of)
_LIST: Final = decoder(_List)


def _id(request_id: str) -> str:
    if not request_id:
        raise ValueError("request_id is empty")
    return quote(request_id, safe="")


def _when(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("requested_until needs a time zone")
    return value.isoformat()


# --- the calls --------------------------------------------------------------------------------------


def request_access(
    subject: Entity | SubjectLike,
    action: str,
    resource: Entity | ObjectLike,
    *,
    via: Sequence[Entity | SubjectLike] | None = None,
    context: dict[str, Any] | None = None,
    justification: str = "",
    relation: str | None = None,
    requested_until: datetime | str | None = None,
    duration: timedelta | int | None = None,
    evaluation_id: str | None = None,
    denial_expires_at: datetime | str | None = None,
) -> Call[AccessRequest]:
    """``POST /access/v1/requests``: a pending request (never retried once sent)."""
    if requested_until is not None and duration is not None:
        raise ValueError("give requested_until or duration, not both")
    who = entity_json(subject)
    if via:
        who["properties"] = {**who.get("properties", {}), "via": [entity_json(v) for v in via]}
    body: dict[str, Any] = {"subject": who, "action": {"name": action}, "resource": entity_json(resource)}
    if context is not None:
        body["context"] = context
    if justification:
        body["justification"] = justification
    wanted: dict[str, Any] = {}
    if relation is not None:
        wanted["relation"] = relation
    if requested_until is not None:
        wanted["requested_until"] = _when(requested_until)
    if duration is not None:
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
        wanted["duration_seconds"] = int(seconds)
    if wanted:
        body["requested_access"] = wanted
    denial: dict[str, Any] = {}
    if evaluation_id is not None:
        denial["evaluation_id"] = evaluation_id
    if denial_expires_at is not None:
        denial["expires_at"] = _when(denial_expires_at)
    if denial:
        body["denial"] = denial
    return Call("POST", _PATH, _ONE, body, idempotency=Idempotency.WRITE)


def access_request(request_id: str) -> Call[AccessRequest]:
    """``GET /access/v1/requests/{id}`` (404 for an unknown id or one the key may not see)."""
    return Call("GET", f"{_PATH}/{_id(request_id)}", _ONE)


def access_requests(
    *, status: AccessRequestStatus | None = None, cursor: str | None = None
) -> Paged[AccessRequest]:
    """``GET /access/v1/requests``: the ones the key's subject may see, newest first, page by page."""
    if status is not None and status not in ACCESS_REQUEST_STATUSES:
        raise ValueError(f"status must be one of {ACCESS_REQUEST_STATUSES}")
    query = {"status": status} if status is not None else {}

    def decode(raw: bytes) -> Page[AccessRequest]:
        found = _LIST(raw)
        return [_request_of(r) for r in found.requests], found.next_token or None

    def page(after: str | None) -> Call[Page[AccessRequest]]:
        params = query if after is None else {**query, "page_token": after}
        return Call("GET", _PATH, decode, params=params)

    return Paged(page, cursor)


def decide_access_request(
    request_id: str, decision: Literal["approve", "deny"], *, reason: str = ""
) -> Call[AccessRequest]:
    """``POST /access/v1/requests/{id}/approve`` or ``/deny`` (the approver is the key's subject)."""
    body = {"reason": reason} if reason else None
    return Call("POST", f"{_PATH}/{_id(request_id)}/{decision}", _ONE, body, idempotency=Idempotency.WRITE)


def cancel_access_request(request_id: str) -> Call[AccessRequest]:
    """``POST /access/v1/requests/{id}/cancel`` (its requester or subject only)."""
    return Call("POST", f"{_PATH}/{_id(request_id)}/cancel", _ONE, idempotency=Idempotency.WRITE)
