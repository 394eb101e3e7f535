"""Access requests and approvals (the AuthZEN Access Request and Approval Profile draft).

An identity that was denied asks for access; a human approves or denies; an approval writes a
time-bound grant. The rules:

* **The request** names the subject (the identity to be granted; an agent, say), its claimed
  chain of principals, the action (a permission), the resource, a justification and how long the
  access is wanted (``requested_until``, or a duration), capped by
  :attr:`~rebac.config.AccessRequestSettings.max_grant_seconds`. The grant writes the relation
  ``relation`` (by default the action itself, which must then be a relation of the type).
* **Who may ask**: the key's subject must be the request's subject or one of its principals (the
  chain is verified against the recorded principal edges). A subject that already has the access
  cannot ask for it.
* **Who may approve** (or deny): the key's subject must hold the permission
  :attr:`~rebac.config.AccessRequestSettings.approve_permission` (``approve_access``) on the
  resource; a type without that permission has requests nobody can approve. The approver can be
  neither the subject, nor the requester, nor any principal up the subject's chain (no one
  approves her own request or her agent's).
* **The grant** is the relationship ``resource#relation@subject`` expiring at the requested end;
  it is written in the same transaction as the request's new state, which records the approver,
  when and the grant's revision. A request nobody acts on expires after ``pending_seconds``.
* **Every step is in the decision log.** The checks behind a step are recorded decisions
  (sources ``access_request``: the subject's own, denied, check; ``access_approval``: the
  approver's permission). Each step itself is recorded too, whatever the sampling rate, with
  source ``access_request.<step>`` (``created``, ``approved``, ``denied``, ``cancelled``,
  ``expired``), the request's subject, action and resource, the result ``allowed`` for an
  approval (``denied`` otherwise), a reason naming the request and who acted, and
  ``context.access_request`` (id, step, actor, status, requested_until, grant revision). So
  ``GET /v1/decisions?subject=agent:bot`` tells the whole story. Webhooks fire on creation and
  decision (:mod:`rebac.services.webhooks`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from rebac import errors
from rebac.config import AccessRequestSettings
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_object, parse_subject
from rebac.services.checks import Checks
from rebac.services.conformance import check_relationship
from rebac.services.decisions import Decisions
from rebac.services.types import Current, HopReason
from rebac.services.webhooks import Webhooks
from rebac.store.base import (
    AccessRequest,
    AccessRequestStore,
    Consistency,
    ConsistencyMode,
    DecisionRecord,
    DecisionResult,
)

__all__ = ["MAX_JUSTIFICATION_CHARS", "STATUSES", "TERMINAL", "AccessRequest", "AccessRequests", "as_json"]

MAX_JUSTIFICATION_CHARS: Final = 4_000
_STRICT: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)
"""Requests and approvals read the head: an approver revoked a moment ago cannot approve."""
DENIAL_HINT_SECONDS: Final = 600
"""How long a requestable deny's ``access_request`` hint stays valid."""
TERMINAL: Final = frozenset({"approved", "denied", "cancelled", "expired"})
STATUSES: Final = frozenset({"pending", *TERMINAL})


def as_json(request: AccessRequest) -> dict[str, Any]:
    """The request as a JSON object (webhook payloads; the API has its own DTO)."""
    out: dict[str, Any] = {
        "id": request.request_id,
        "status": request.status,
        "subject": request.subject,
        "chain": list(request.chain),
        "resource": request.resource,
        "action": request.action,
        "relation": request.relation,
        "justification": request.justification,
        "requested_until": request.requested_until.isoformat(),
        "requester": request.requester,
        "created_at": request.created_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
    }
    if request.decided_at is not None:
        out |= {"decided_by": request.decided_by, "decided_at": request.decided_at.isoformat()}
    if request.grant_revision is not None:
        out["grant_revision"] = request.grant_revision
    return out


def _settled(request: AccessRequest) -> errors.ConflictError:
    return errors.ConflictError(
        f"the access request is already {request.status}", details={"status": request.status}
    )


class AccessRequests:
    """Create, read, approve, deny and cancel access requests.

    Args:
        store: The store's access-request role (``None``: the store keeps none; every call fails).
        checks: Decisions (each step's checks are recorded).
        settings: Caps and names.
        clock: Wall clock (injectable for tests).
        decisions: The decision log service; its running recorder records every step.
    """

    __slots__ = ("_checks", "_clock", "_decisions", "_settings", "_store", "webhooks")

    def __init__(
        self,
        store: AccessRequestStore | None,
        checks: Checks,
        settings: AccessRequestSettings,
        *,
        clock: Callable[[], datetime] | None = None,
        decisions: Decisions | None = None,
    ) -> None:
        self._store = store
        self._decisions = decisions
        self._checks = checks
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self.webhooks = Webhooks(settings.webhook_urls, settings.webhook_secret)

    @property
    def settings(self) -> AccessRequestSettings:
        """The caps and names in force."""
        return self._settings

    async def _log_step(
        self, request: AccessRequest, step: str, *, actor: str | None, caller: str | None = None
    ) -> None:
        """Record one step of ``request`` in the decision log (never sampled out)."""
        recorder = self._decisions.recorder if self._decisions is not None else None
        if recorder is None:
            return
        at = recorder.now()
        detail: dict[str, Any] = {
            "id": request.request_id,
            "step": step,
            "actor": actor,
            "status": request.status,
            "relation": request.relation,
            "requested_until": request.requested_until.isoformat(),
        }
        grant = ""
        if request.grant_revision is not None:
            until = request.grant_expires_at or request.requested_until  # the approver may grant less
            detail["grant_revision"] = request.grant_revision
            detail["grant_until"] = until.isoformat()
            grant = f": grant {request.resource}#{request.relation}@{request.subject} at revision "
            grant += f"{request.grant_revision} until {until.isoformat()}"
        by = f" by {actor}" if actor else ""
        record = DecisionRecord(
            decision_id=recorder.new_id(at),
            decided_at=at,
            source=f"access_request.{step}",
            caller=caller,
            subject=request.subject,
            permission=request.action,
            resource=request.resource,
            result=DecisionResult.ALLOWED if step == "approved" else DecisionResult.DENIED,
            reason=f"access request {request.request_id} {step}{by}{grant}",
            chain=tuple({"subject": text} for text in request.chain),
            revision=request.grant_revision,
            context={"access_request": detail},
        )
        await recorder.record(record, always=True)

    def _role(self) -> AccessRequestStore:
        if self._store is None:
            raise errors.StoreError("this store keeps no access requests")
        return self._store

    def approvable(self, current: Current, resource_type: str) -> bool:
        """Whether requests on ``resource_type`` can be approved (its type has the permission).

        False too when the store keeps no requests, so a deny names no request it cannot take.
        """
        if self._store is None:
            return False
        try:
            definition = current.engine.model.definition(resource_type)
        except errors.UnknownTypeError:
            return False
        return definition.member(self._settings.approve_permission) is not None

    def denial_hint(
        self, current: Current, resource_type: str, evaluation_id: str | None
    ) -> dict[str, Any] | None:
        """The ``context`` members that make a deny on ``resource_type`` requestable, or ``None``."""
        if evaluation_id is None or not self.approvable(current, resource_type):
            return None
        expires = self._clock() + timedelta(seconds=DENIAL_HINT_SECONDS)
        return {
            "evaluation_id": evaluation_id,
            "access_request": {"expires_at": expires.isoformat().replace("+00:00", "Z")},
        }

    def _until(self, now: datetime, until: datetime | None, seconds: int | None) -> datetime:
        cap = self._settings.max_grant_seconds
        if until is not None and seconds is not None:
            raise errors.InvalidInputError("give requested_until or duration_seconds, not both")
        if until is None:
            wanted = self._settings.default_grant_seconds if seconds is None else seconds
            if wanted <= 0:
                raise errors.InvalidInputError("duration_seconds must be positive")
            until = now + timedelta(seconds=wanted)
        if until.tzinfo is None:
            raise errors.InvalidInputError("requested_until needs a time zone (RFC 3339)")
        if until <= now:
            raise errors.InvalidInputError("requested_until must be in the future")
        if until - now > timedelta(seconds=cap):
            raise errors.LimitExceededError(
                f"the access may be requested for at most {cap} seconds",
                limit="MAX_GRANT_SECONDS",
                maximum=cap,
                actual=int((until - now).total_seconds()),
            )
        return until

    async def create(
        self,
        current: Current,
        *,
        requester: SubjectRef | None,
        caller: str | None,
        subject: SubjectRef,
        chain: Sequence[SubjectRef],
        resource: ObjectRef,
        action: str,
        relation: str | None = None,
        justification: str = "",
        requested_until: datetime | None = None,
        duration_seconds: int | None = None,
        evaluation_id: str | None = None,
    ) -> AccessRequest:
        """Record a pending request (see the module docstring for who may ask).

        Raises:
            SubjectRequiredError: the key acts for no subject.
            NotPermittedError: the key's subject is neither the subject nor one of its principals.
            InvalidInputError: a malformed member, an unknown type/action/relation, a chain that
                does not match the recorded principals, a duration over the cap.
            ConflictError: the subject already has the access.
        """
        store = self._role()
        if requester is None:
            raise errors.SubjectRequiredError("an access request needs a key that acts for a subject")
        if len(justification) > MAX_JUSTIFICATION_CHARS:
            raise errors.InvalidInputError(
                f"justification is longer than {MAX_JUSTIFICATION_CHARS} characters"
            )
        definition = current.engine.model.definition(resource.type)
        current.engine.model.member(resource.type, action)
        grant_relation = relation or action
        if grant_relation not in definition.relations:
            raise errors.InvalidInputError(
                f"{resource.type!r} has no relation {grant_relation!r} to grant; name the relation"
            )
        now = self._clock()
        until = self._until(now, requested_until, duration_seconds)
        wanted = Relationship(resource, grant_relation, subject, expires_at=until)
        check_relationship(current.engine.model.schema, wanted)
        revision = await self._checks.revision(current, _STRICT)
        decision = await self._checks.decide(
            current, caller, "access_request", revision, (resource, action, subject), via=tuple(chain) or None
        )
        result = decision.result
        if any(hop.reason is HopReason.CHAIN_MISMATCH for hop in result.delegation):
            raise errors.InvalidInputError("the chain does not match the recorded principals of the subject")
        if result.allowed:
            raise errors.ConflictError(f"{subject} already has {action} on {resource}")
        principals = {hop.subject for hop in result.delegation} | set(chain) | {subject}
        if requester not in principals:
            raise errors.NotPermittedError("only the subject or one of its principals may ask for its access")
        request = AccessRequest(
            request_id="ar_" + secrets.token_urlsafe(12),
            status="pending",
            subject=str(subject),
            chain=tuple(str(s) for s in chain),
            resource=str(resource),
            action=action,
            relation=grant_relation,
            justification=justification,
            requested_until=until,
            requester=str(requester),
            evaluation_id=evaluation_id or decision.decision_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.pending_seconds),
        )
        stored = await store.add_access_request(request)
        await self._log_step(stored, "created", actor=stored.requester, caller=caller)
        self.webhooks.fire("access_request.created", as_json(stored))
        return stored

    async def _expire_if_due(self, request: AccessRequest) -> AccessRequest:
        now = self._clock()
        if request.status != "pending" or request.expires_at > now:
            return request
        try:
            expired = await self._role().decide_access_request(
                request.request_id, status="expired", decided_by=None, now=now
            )
        except errors.ConflictError:  # decided meanwhile
            found = await self._role().get_access_request(request.request_id)
            return found or request
        await self._log_step(expired, "expired", actor=None)
        self.webhooks.fire("access_request.decided", as_json(expired))
        return expired

    async def get(self, request_id: str) -> AccessRequest:
        """The request (a pending one past its expiry is expired first).

        Raises:
            NotFoundError: no such request.
        """
        found = await self._role().get_access_request(request_id)
        if found is None:
            raise errors.NotFoundError(f"no access request {request_id!r}")
        return await self._expire_if_due(found)

    async def list(
        self, *, status: str | None, before: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[AccessRequest], tuple[datetime, str] | None]:
        """One page of requests, newest first, and the position the next page starts after.

        Pending requests past their expiry are expired as they are read, so a page asked for
        ``expired`` reads the pending ones too, and a page asked for ``pending`` leaves them out.
        The next position (``None`` on the last page) comes from the rows read, not the rows
        kept, so a page thinned by that filter never ends the listing early.
        """
        if status is not None and status not in STATUSES:
            raise errors.InvalidInputError(f"status must be one of {sorted(STATUSES)}")
        stored = None if status == "expired" else status
        found = await self._role().list_access_requests(status=stored, before=before, limit=limit)
        out = [await self._expire_if_due(r) for r in found]
        after = (found[-1].created_at, found[-1].request_id) if len(found) == limit else None
        return [r for r in out if status is None or r.status == status], after

    async def _decidable(
        self, current: Current, request_id: str, decider: SubjectRef | None, caller: str | None
    ) -> AccessRequest:
        if decider is None:
            raise errors.SubjectRequiredError("approving needs a key that acts for a subject")
        request = await self.get(request_id)
        if request.status != "pending":
            raise _settled(request)
        resource, subject = parse_object(request.resource), parse_subject(request.subject)
        if not self.approvable(current, resource.type):
            raise errors.NotPermittedError(
                f"{resource.type!r} has no permission {self._settings.approve_permission!r}: "
                "nobody can approve its requests"
            )
        revision = await self._checks.revision(current, _STRICT)
        chain = await current.engine.check(resource, request.action, subject, revision=revision)
        involved = {subject, *(hop.subject for hop in chain.delegation), *map(parse_subject, request.chain)}
        if request.requester is not None:
            involved.add(parse_subject(request.requester))
        if decider in involved:
            raise errors.NotPermittedError("an approver cannot decide her own request or her agent's")
        allowed = await self._checks.decide(
            current,
            caller,
            "access_approval",
            revision,
            (resource, self._settings.approve_permission, decider),
        )
        if not allowed.result.allowed:
            raise errors.NotPermittedError(
                f"{decider} lacks {self._settings.approve_permission} on {resource}",
                details={"decisionId": allowed.decision_id} if allowed.decision_id else None,
            )
        return request

    async def approve(
        self,
        current: Current,
        request_id: str,
        *,
        approver: SubjectRef | None,
        reason: str = "",
        caller: str | None = None,
        grant_seconds: int | None = None,
    ) -> AccessRequest:
        """Approve: write the time-bound grant and the request's new state in one transaction.

        ``grant_seconds`` lets the approver grant less than was asked: the grant then ends that
        long from now, or at the requested end if that comes first (never later).

        Raises:
            SubjectRequiredError, NotPermittedError: the approver may not approve it.
            NotFoundError: no such request.
            ConflictError: it is no longer pending (decided, cancelled or expired).
            InvalidInputError: ``grant_seconds`` is not positive.
        """
        if grant_seconds is not None and grant_seconds <= 0:
            raise errors.InvalidInputError("the grant's duration must be a positive number of seconds")
        request = await self._decidable(current, request_id, approver, caller)
        until = request.requested_until
        if grant_seconds is not None:
            until = min(until, self._clock() + timedelta(seconds=grant_seconds))
        grant = Relationship(
            parse_object(request.resource),
            request.relation,
            parse_subject(request.subject),
            expires_at=until,
        )
        check_relationship(current.engine.model.schema, grant)
        decided = await self._role().decide_access_request(
            request_id,
            status="approved",
            decided_by=str(approver),
            now=self._clock(),
            reason=reason,
            grant=grant,
        )
        await self._log_step(decided, "approved", actor=str(approver), caller=caller)
        self.webhooks.fire("access_request.decided", as_json(decided))
        return decided

    async def deny(
        self,
        current: Current,
        request_id: str,
        *,
        approver: SubjectRef | None,
        reason: str = "",
        caller: str | None = None,
    ) -> AccessRequest:
        """Deny (the same approvers as :meth:`approve`); nothing is granted."""
        await self._decidable(current, request_id, approver, caller)
        decided = await self._role().decide_access_request(
            request_id, status="denied", decided_by=str(approver), now=self._clock(), reason=reason
        )
        await self._log_step(decided, "denied", actor=str(approver), caller=caller)
        self.webhooks.fire("access_request.decided", as_json(decided))
        return decided

    async def cancel(
        self, request_id: str, *, requester: SubjectRef | None, caller: str | None = None
    ) -> AccessRequest:
        """Withdraw a pending request (its requester or its subject only).

        Raises:
            NotPermittedError: the key's subject did not ask and is not the subject.
            ConflictError: it is no longer pending.
        """
        request = await self.get(request_id)
        if requester is None or str(requester) not in {request.requester, request.subject}:
            raise errors.NotPermittedError("only the requester or the subject may cancel a request")
        if request.status != "pending":
            raise _settled(request)
        cancelled = await self._role().decide_access_request(
            request_id, status="cancelled", decided_by=str(requester), now=self._clock()
        )
        await self._log_step(cancelled, "cancelled", actor=str(requester), caller=caller)
        self.webhooks.fire("access_request.decided", as_json(cancelled))
        return cancelled
