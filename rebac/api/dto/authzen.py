"""msgspec DTOs of OpenID AuthZEN Authorization API 1.0 (snake_case, as the spec spells them)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "AccessRequestList",
    "AccessRequestResponse",
    "AccessRequestSubmission",
    "AccessRequestView",
    "Action",
    "Decision",
    "DecisionNote",
    "Denial",
    "Entity",
    "EvaluationItem",
    "EvaluationRequest",
    "EvaluationsOptions",
    "EvaluationsRequest",
    "EvaluationsResponse",
    "PageRequest",
    "PageResponse",
    "PartialAction",
    "PartialEntity",
    "RequestedAccess",
    "SearchActionRequest",
    "SearchEntity",
    "SearchEntityRequest",
    "SearchResponse",
    "Task",
    "TaskLinks",
]

Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]


class Entity(msgspec.Struct, omit_defaults=True):
    """A subject or resource: ``{type, id, properties?}``."""

    type: str
    id: str
    properties: dict[str, Any] | None = None


class SearchEntity(msgspec.Struct, omit_defaults=True):
    """The searched-for entity: ``id`` is ignored."""

    type: str
    id: str | None = None
    properties: dict[str, Any] | None = None


class Action(msgspec.Struct, omit_defaults=True):
    """``{name, properties?}``; ``name`` is the permission."""

    name: str
    properties: dict[str, Any] | None = None


class EvaluationRequest(msgspec.Struct):
    """``POST /access/v1/evaluation``."""

    subject: Entity
    resource: Entity
    action: Action
    context: dict[str, Any] | None = None


class Decision(msgspec.Struct, omit_defaults=True):
    """``{decision, context?}``: a deny is ``{"decision": false}`` with status 200."""

    decision: bool
    context: dict[str, Any] | None = None


class PartialEntity(msgspec.Struct, omit_defaults=True):
    """A subject or resource of a batch: an item's replaces the default, whose ``type``/``id`` fill gaps."""

    type: str | None = None
    id: str | None = None
    properties: dict[str, Any] | None = None


class PartialAction(msgspec.Struct, omit_defaults=True):
    """An action of a batch (``name`` may come from the default)."""

    name: str | None = None
    properties: dict[str, Any] | None = None


class EvaluationItem(msgspec.Struct):
    """One item; missing members default to the request's top-level ones."""

    subject: PartialEntity | None = None
    resource: PartialEntity | None = None
    action: PartialAction | None = None
    context: dict[str, Any] | None = None


class EvaluationsOptions(msgspec.Struct):
    """``options``; unknown members are ignored."""

    evaluations_semantic: Semantic = "execute_all"


class EvaluationsRequest(msgspec.Struct):
    """``POST /access/v1/evaluations``."""

    subject: PartialEntity | None = None
    resource: PartialEntity | None = None
    action: PartialAction | None = None
    context: dict[str, Any] | None = None
    evaluations: list[EvaluationItem] | None = None
    options: EvaluationsOptions | None = None


class EvaluationsResponse(msgspec.Struct, omit_defaults=True):
    """Decisions in request order (or a single ``decision`` when no ``evaluations`` were sent)."""

    evaluations: list[Decision] | None = None
    decision: bool | None = None
    context: dict[str, Any] | None = None


class PageRequest(msgspec.Struct):
    """``page: {token?, limit?}``."""

    token: str | None = None
    limit: int | None = None


class PageResponse(msgspec.Struct, omit_defaults=True):
    """``next_token`` is ``""`` at the end."""

    next_token: str
    count: int | None = None


class SearchEntityRequest(msgspec.Struct):
    """Subject search (``subject`` has only a type) or resource search (``resource`` has only a type)."""

    subject: SearchEntity
    action: Action
    resource: SearchEntity
    context: dict[str, Any] | None = None
    page: PageRequest | None = None


class SearchActionRequest(msgspec.Struct):
    """Action search: which actions may ``subject`` take on ``resource``."""

    subject: Entity
    resource: Entity
    context: dict[str, Any] | None = None
    page: PageRequest | None = None


class SearchResponse(msgspec.Struct, omit_defaults=True):
    """``{page, results}`` (``page`` first, as the spec recommends)."""

    page: PageResponse
    results: list[dict[str, Any]]
    context: dict[str, Any] | None = None


# --- access requests (the ARAP draft) --------------------------------------------------------------


class RequestedAccess(msgspec.Struct, omit_defaults=True):
    """``requested_access``: how long (``requested_until`` or ``duration_seconds``) and which relation."""

    requested_until: str | None = None
    duration_seconds: int | None = None
    relation: str | None = None


class Denial(msgspec.Struct, omit_defaults=True):
    """``denial``: the denied evaluation this request remediates (echoed from its context)."""

    evaluation_id: str | None = None
    expires_at: str | None = None
    evaluated_at: str | None = None
    reason: str | None = None


class AccessRequestSubmission(msgspec.Struct):
    """``POST /access/v1/requests``: the denied subject, resource and action, and what is wanted.

    The chain forms of an evaluation (``context.agent``, ``context.act``, ...) name who acts;
    ``justification`` (or ``context.business_justification``) says why.
    """

    subject: Entity
    resource: Entity
    action: Action
    context: dict[str, Any] | None = None
    justification: str | None = None
    requested_access: RequestedAccess | None = None
    denial: Denial | None = None


class DecisionNote(msgspec.Struct, omit_defaults=True):
    """The body of an approve, deny or cancel call (optional)."""

    reason: str = ""


class TaskLinks(msgspec.Struct, omit_defaults=True):
    """``task.links``."""

    cancel: str | None = None
    approve: str | None = None
    deny: str | None = None


class Task(msgspec.Struct, omit_defaults=True):
    """The ARAP task handle of a request."""

    id: str
    status: str
    status_endpoint: str
    expires_at: str
    links: TaskLinks | None = None


class AccessRequestView(msgspec.Struct, omit_defaults=True):
    """What was asked, and (once decided) by whom, when and with which grant."""

    subject: dict[str, Any]
    resource: dict[str, Any]
    action: dict[str, Any]
    relation: str
    chain: list[dict[str, Any]]
    justification: str
    requested_until: str
    requester: str | None = None
    evaluation_id: str | None = None
    created_at: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    grant: dict[str, Any] | None = None


class AccessRequestResponse(msgspec.Struct, omit_defaults=True):
    """``{task, request}``."""

    task: Task
    request: AccessRequestView


class AccessRequestList(msgspec.Struct):
    """``GET /access/v1/requests``: newest first, with a cursor (``""`` at the end)."""

    requests: list[AccessRequestResponse]
    next_token: str
