"""Access requests over HTTP (the AuthZEN Access Request and Approval Profile draft).

- ``POST /access/v1/requests`` (scope ``check``): a denied subject's request, made by the key's
  subject (the subject itself or one of its principals). ``202`` with the task handle
  (``status_endpoint``, ``links.cancel``), ``Location`` and ``Retry-After``.
- ``GET /access/v1/requests/{id}``: the task's status (``Retry-After`` while pending), for its
  requester, its subject, an ``admin`` key, or a subject that may approve it.
- ``GET /access/v1/requests``: the requests the key's subject may see, newest first.
- ``POST /access/v1/requests/{id}/approve`` and ``/deny``: by a subject holding the approval
  permission on the resource (never the subject, its requester or a principal of the subject).
- ``POST /access/v1/requests/{id}/cancel``: by its requester or subject.

Every rule is in :mod:`rebac.services.requests`; refusals are problem details and write nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from rebac import errors
from rebac.api.auth import Principal, require_scope
from rebac.api.controllers.authzen import JsonBodyOnly
from rebac.api.controllers.authzen_chain import chain_of
from rebac.api.controllers.authzen_eval import resource_ref
from rebac.api.controllers.authzen_ids import decode_id
from rebac.api.dto import authzen as az
from rebac.api.problems import problem_responses
from rebac.opaque import Cursor
from rebac.refs import parse_object, parse_subject
from rebac.services.core import Services
from rebac.services.requests import AccessRequest
from rebac.services.types import Consistency, ConsistencyMode, Current, Revision

__all__ = ["AccessRequestsController"]

_MAX_LIST: Final = 100
_FULLY_CONSISTENT: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def _entity(text: str) -> dict[str, Any]:
    ref = parse_subject(text)
    return {"type": ref.type, "id": decode_id(ref.id)}


def _position(cursor: Cursor) -> tuple[datetime, str]:
    created, request_id = cursor.after
    try:
        return datetime.fromisoformat(created), request_id
    except ValueError:
        raise errors.InvalidTokenError("page_token is malformed") from None


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidInputError(f"{what} must be an RFC 3339 timestamp") from None


def _response(request: Request[Any, Any, Any], found: AccessRequest) -> az.AccessRequestResponse:
    base = f"{str(request.base_url).rstrip('/')}/access/v1/requests/{found.request_id}"
    links = None
    if found.status == "pending":
        links = az.TaskLinks(cancel=f"{base}/cancel", approve=f"{base}/approve", deny=f"{base}/deny")
    grant = None
    if found.grant_revision is not None:
        grant = {
            "relation": found.relation,
            "expires_at": found.grant_expires_at.isoformat() if found.grant_expires_at else None,
            "revision": found.grant_revision,
        }
    resource = parse_object(found.resource)
    view = az.AccessRequestView(
        subject=_entity(found.subject),
        resource={"type": resource.type, "id": decode_id(resource.id)},
        action={"name": found.action},
        relation=found.relation,
        chain=[_entity(text) for text in found.chain],
        justification=found.justification,
        requested_until=found.requested_until.isoformat(),
        requester=found.requester,
        evaluation_id=found.evaluation_id,
        created_at=found.created_at.isoformat(),
        decided_by=found.decided_by,
        decided_at=found.decided_at.isoformat() if found.decided_at else None,
        reason=found.reason or None,
        grant=grant,
    )
    task = az.Task(
        id=found.request_id,
        status=found.status,
        status_endpoint=base,
        expires_at=found.expires_at.isoformat(),
        links=links,
    )
    return az.AccessRequestResponse(task=task, request=view)


def _headers(services: Services, found: AccessRequest, location: str | None = None) -> dict[str, str]:
    headers = {"Location": location} if location else {}
    if found.status == "pending":
        headers["Retry-After"] = str(services.requests.settings.retry_after_seconds)
    return headers


class _Visibility:
    """Which requests the key's subject may see: its own, its agent's, and those it may approve.

    The approver test reads at full consistency (once per response, however many rows): the
    queue is not a hot path, and a stale snapshot would hide a request from an approver who was
    just granted the right, or show one to an approver who just lost it.
    """

    def __init__(self, services: Services, current: Current, principal: Principal) -> None:
        self._services, self._current, self._principal = services, current, principal
        self._revision: Revision | None = None

    async def __call__(self, found: AccessRequest) -> bool:
        principal, requests = self._principal, self._services.requests
        if "admin" in principal.scopes:
            return True
        if principal.subject is None:
            return False
        if str(principal.subject) in {found.requester, found.subject}:
            return True
        resource = parse_object(found.resource)
        if not requests.approvable(self._current, resource.type):
            return False
        if self._revision is None:
            self._revision = await self._services.checks.revision(self._current, _FULLY_CONSISTENT)
        result = await self._current.engine.check(
            resource, requests.settings.approve_permission, principal.subject, revision=self._revision
        )
        return result.allowed


class AccessRequestsController(Controller):
    """``/access/v1/requests`` (scope ``check``; decisions need a key acting for a subject)."""

    path = "/access/v1/requests"
    guards = [require_scope("check")]  # noqa: RUF012 - Litestar reads this class attribute
    middleware = [JsonBodyOnly]  # noqa: RUF012
    tags = ["authzen"]  # noqa: RUF012

    @post("/", operation_id="AccessRequestCreate", status_code=202, responses=problem_responses(409, 422))
    async def create(
        self,
        *,
        data: JSONBody[az.AccessRequestSubmission],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
    ) -> Response[az.AccessRequestResponse]:
        """Ask for the denied access; a human approves or denies it later."""
        chain = chain_of(data.subject, data.context)
        wanted = data.requested_access or az.RequestedAccess()
        denial = data.denial or az.Denial()
        denial_expiry = _time(denial.expires_at, "denial.expires_at")
        now = datetime.now(UTC)
        if denial_expiry is not None and denial_expiry.tzinfo is not None and denial_expiry < now:
            raise errors.InvalidInputError("the denial this request answers has expired; evaluate again")
        justification = data.justification or str((data.context or {}).get("business_justification", ""))
        created = await services.requests.create(
            current,
            requester=principal.subject,
            caller=principal.key_id,
            subject=chain.actor,
            chain=chain.via or (),
            resource=resource_ref(data.resource, data.resource.id),
            action=data.action.name,
            relation=wanted.relation,
            justification=justification,
            requested_until=_time(wanted.requested_until, "requested_access.requested_until"),
            duration_seconds=wanted.duration_seconds,
            evaluation_id=denial.evaluation_id,
        )
        body = _response(request, created)
        headers = _headers(services, created, body.task.status_endpoint)
        return Response(body, status_code=202, headers=headers)

    @get("/", operation_id="AccessRequestList", responses=problem_responses())
    async def list_requests(
        self,
        *,
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        status: Annotated[str | None, QueryParameter(description="Only this status.")] = None,
        page_token: Annotated[str | None, QueryParameter(description="The previous next_token.")] = None,
    ) -> az.AccessRequestList:
        """Requests the key's subject may see (all of them for an ``admin`` key), newest first."""
        digest = f"access-requests:{status or ''}"
        cursor = Cursor.decode(page_token, digest, what="page_token", size=2) if page_token else None
        before = None if cursor is None else _position(cursor)
        found, after = await services.requests.list(status=status, before=before, limit=_MAX_LIST)
        may_see = _Visibility(services, current, principal)
        visible = [r for r in found if await may_see(r)]
        token = "" if after is None else Cursor(None, digest, (after[0].isoformat(), after[1])).encode()
        return az.AccessRequestList(requests=[_response(request, r) for r in visible], next_token=token)

    @get("/{request_id:str}", operation_id="AccessRequestStatus", responses=problem_responses(404))
    async def status(
        self,
        *,
        request_id: Annotated[str, PathParameter(description="The task id.")],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
    ) -> Response[az.AccessRequestResponse]:
        """The task's status; poll after ``Retry-After`` seconds while pending."""
        found = await services.requests.get(request_id)
        if not await _Visibility(services, current, principal)(found):
            raise errors.NotFoundError(f"no access request {request_id!r}")
        return Response(_response(request, found), headers=_headers(services, found))

    @post(
        "/{request_id:str}/approve",
        operation_id="AccessRequestApprove",
        status_code=200,
        responses=problem_responses(404, 409),
    )
    async def approve(
        self,
        *,
        request_id: Annotated[str, PathParameter(description="The task id.")],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        data: JSONBody[az.DecisionNote | None] = None,
    ) -> az.AccessRequestResponse:
        """Approve: the time-bound grant is written with the request's new state, atomically."""
        reason = data.reason if data else ""
        decided = await services.requests.approve(
            current, request_id, approver=principal.subject, reason=reason, caller=principal.key_id
        )
        return _response(request, decided)

    @post(
        "/{request_id:str}/deny",
        operation_id="AccessRequestDeny",
        status_code=200,
        responses=problem_responses(404, 409),
    )
    async def deny(
        self,
        *,
        request_id: Annotated[str, PathParameter(description="The task id.")],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        data: JSONBody[az.DecisionNote | None] = None,
    ) -> az.AccessRequestResponse:
        """Deny; nothing is granted."""
        reason = data.reason if data else ""
        decided = await services.requests.deny(
            current, request_id, approver=principal.subject, reason=reason, caller=principal.key_id
        )
        return _response(request, decided)

    @post(
        "/{request_id:str}/cancel",
        operation_id="AccessRequestCancel",
        status_code=200,
        responses=problem_responses(404, 409),
    )
    async def cancel(
        self,
        *,
        request_id: Annotated[str, PathParameter(description="The task id.")],
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
    ) -> az.AccessRequestResponse:
        """Withdraw a pending request."""
        cancelled = await services.requests.cancel(
            request_id, requester=principal.subject, caller=principal.key_id
        )
        return _response(request, cancelled)
