"""OpenID AuthZEN 1.0: evaluation, evaluations (boxcarring), searches, and discovery metadata.

``action.name`` is the permission, ``subject``/``resource`` ``{type, id}`` are objects with
free-string ids, ``context`` and the entities feed caveats, and a delegation chain may come in four
forms (:mod:`~rebac.api.controllers.authzen_eval` and ``authzen_chain`` say how). A deny is
``200 {"decision": false}``; so is an unknown type or action, and a search for one returns
``{"results": []}``. A conditional result (a caveat lacks context) is a deny that names the missing
parameters, and a deny decided by a delegation link names the hop that failed. Errors of one item
of a batch are reported in that item (``context.error``), never as the batch's status. A body that
is not sent as JSON (``Content-Type`` missing or not ``application/json``) is a 400, as the
certification scenario requires.
``X-Rebac-Consistency-Token`` (an addition) makes the decision at least as fresh as a write's token
(the new-enemy guard).
"""

from __future__ import annotations

import json
from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from rebac import errors
from rebac.api.auth import require_scope
from rebac.api.controllers.authzen_chain import entity_ref
from rebac.api.controllers.authzen_eval import (
    caveat_context,
    error_decision,
    evaluate,
    resource_ref,
    settle,
    unknown_reason,
    with_id,
)
from rebac.api.controllers.authzen_ids import decode_id
from rebac.api.deps import SOURCE_HEADER, caller_of, decision_source
from rebac.api.dto import authzen as az
from rebac.api.hot import hot_route
from rebac.api.problems import PROBLEM_MEDIA_TYPE, problem_for, problem_responses
from rebac.services.bounds import check_batch
from rebac.services.checks import decision_id_of
from rebac.services.core import Services
from rebac.services.types import Current, Permissionship, Revision

__all__ = ["CAPABILITIES", "AuthZenController", "JsonBodyOnly", "WellKnownController", "evaluation_decision"]

TOKEN_HEADER: Final = "x-rebac-consistency-token"  # noqa: S105 - a header name, not a secret
_DEFAULT_PAGE: Final = 100
CAPABILITIES: Final = (
    "urn:openid:authzen:capability:access-request",
    "urn:rebac:capability:delegation-chain",
    "urn:rebac:capability:consistency-token",
)
"""The ``capabilities`` of the discovery metadata (the ARAP draft's URN, then rebac's own)."""


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a bodiless POST, such as an approval, needs no type)."""
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") not in {b"0", b""} or b"transfer-encoding" in headers


class JsonBodyOnly:
    """ASGI middleware: a ``POST`` body whose ``Content-Type`` is not JSON is a 400 (before parsing).

    It runs ahead of the hot route, so both paths refuse a ``text/plain`` or untyped body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a non-JSON body; pass everything else on."""
        if scope["type"] == "http" and scope.get("method") == "POST" and _has_body(scope):  # type: ignore[comparison-overlap]
            raw = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            media = raw.split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not (
                media.startswith(b"application/") and media.endswith(b"+json")
            ):
                problem = problem_for(
                    errors.InvalidInputError("the request body must be sent as application/json")
                )
                body = json.dumps(problem.body()).encode()
                headers = [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                start: HTTPResponseStartEvent = {
                    "type": "http.response.start",
                    "status": problem.kind.status,
                    "headers": headers,
                }
                await send(start)
                end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
                await send(end)
                return
        await self.app(scope, receive, send)


def _merge(base: dict[str, Any] | None, item: dict[str, Any] | None) -> dict[str, Any] | None:
    if base is None:
        return item
    return {**base, **(item or {})}


def _entity(item: az.PartialEntity | None, default: az.PartialEntity | None, what: str) -> az.Entity | None:
    """An item's entity over the default: the item's replaces it, and its ``type``/``id`` fill gaps."""
    chosen = item or default
    if chosen is None:
        return None
    type_ = chosen.type if chosen.type is not None else (default.type if default else None)
    id_ = chosen.id if chosen.id is not None else (default.id if default else None)
    if type_ is None or id_ is None:
        raise errors.InvalidInputError(f"{what}.type and {what}.id are required (item or default)")
    return az.Entity(type=type_, id=id_, properties=chosen.properties)


def _action(item: az.PartialAction | None, default: az.PartialAction | None) -> az.Action | None:
    chosen = item or default
    if chosen is None:
        return None
    name = chosen.name if chosen.name is not None else (default.name if default else None)
    if name is None:
        raise errors.InvalidInputError("action.name is required (item or default)")
    return az.Action(name=name, properties=chosen.properties)


def _empty(exc: Exception) -> az.SearchResponse:
    """The answer of a search naming an unknown type or action: no results (with the reason)."""
    reason = unknown_reason(exc) if isinstance(exc, errors.NotFoundError) else None
    return az.SearchResponse(page=az.PageResponse(next_token="", count=0), results=[], context=reason)


async def _item(
    current: Current,
    revision: Revision,
    data: az.EvaluationsRequest,
    item: az.EvaluationItem,
    *,
    services: Services,
    caller: str | None,
) -> az.Decision:
    """One item of a batch: its members over the batch's defaults; an error is a failed item."""
    try:
        subject = _entity(item.subject, data.subject, "subject")
        resource = _entity(item.resource, data.resource, "resource")
        action = _action(item.action, data.action)
        if subject is None or resource is None or action is None:
            raise errors.InvalidInputError("subject, resource and action are required (item or default)")
        return await evaluate(
            current,
            revision,
            subject,
            resource,
            action,
            _merge(data.context, item.context),
            services=services,
            caller=caller,
        )
    except (errors.RebacError, ValueError) as exc:
        return with_id(error_decision(exc), decision_id_of(exc))


async def evaluation_decision(  # noqa: PLR0917 - the hot route calls it positionally
    services: Services,
    current: Current,
    caller: str | None,
    data: az.EvaluationRequest,
    token: str | None,
    source_label: str | None = None,
) -> az.Decision:
    """Answer one ``POST /access/v1/evaluation`` (the handler and its hot route both call this).

    ``token`` is the ``X-Rebac-Consistency-Token`` header, ``source_label`` the
    ``X-Rebac-Decision-Source`` header (:func:`rebac.api.deps.decision_source`), if sent.
    """
    source = decision_source("authzen", source_label)
    revision = await services.checks.revision_for_token(current, token)
    return await evaluate(
        current,
        revision,
        data.subject,
        data.resource,
        data.action,
        data.context,
        services=services,
        caller=caller,
        source=source,
    )


def _page(page: az.PageRequest | None, services: Services) -> tuple[int, str | None]:
    limit = (page.limit if page else None) or min(_DEFAULT_PAGE, services.settings.api.max_page_size)
    if limit < 1 or limit > services.settings.api.max_page_size:
        raise errors.LimitExceededError(
            f"page.limit must be between 1 and {services.settings.api.max_page_size}",
            limit="MAX_LOOKUP_PAGE_SIZE",
            maximum=services.settings.api.max_page_size,
            actual=limit,
        )
    return limit, (page.token or None) if page else None


class AuthZenController(Controller):
    """The AuthZEN PDP endpoints (scope ``check``)."""

    path = "/access/v1"
    guards = [require_scope("check")]  # noqa: RUF012 - Litestar reads this class attribute
    middleware = [JsonBodyOnly]  # noqa: RUF012
    tags = ["authzen"]  # noqa: RUF012

    @post(
        "/evaluation",
        operation_id="AuthZenEvaluation",
        status_code=200,
        responses=problem_responses(422),
        middleware=[hot_route(az.EvaluationRequest, evaluation_decision)],
    )
    async def evaluation(
        self,
        data: JSONBody[az.EvaluationRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> az.Decision:
        """One decision."""
        return await evaluation_decision(
            services,
            current,
            caller_of(request),
            data,
            request.headers.get(TOKEN_HEADER),
            request.headers.get(SOURCE_HEADER),
        )

    @post(
        "/evaluations",
        operation_id="AuthZenEvaluations",
        status_code=200,
        responses=problem_responses(422),
    )
    async def evaluations(
        self,
        data: JSONBody[az.EvaluationsRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> az.EvaluationsResponse:
        """Many decisions at one revision; top-level members are defaults for each item."""
        revision = await services.checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        caller = caller_of(request)
        if not data.evaluations:
            subject = _entity(data.subject, None, "subject")
            resource = _entity(data.resource, None, "resource")
            action = _action(data.action, None)
            if subject is None or resource is None or action is None:
                raise errors.InvalidInputError(
                    "subject, resource and action are required without evaluations"
                )
            single = await evaluate(
                current,
                revision,
                subject,
                resource,
                action,
                data.context,
                services=services,
                caller=caller,
            )
            return az.EvaluationsResponse(decision=single.decision, context=single.context)
        check_batch(
            len(data.evaluations),
            services.settings.api.max_bulk_items,
            limit="MAX_BULK_CHECK_ITEMS",
            what="evaluations",
        )
        semantic = data.options.evaluations_semantic if data.options else "execute_all"
        out: list[az.Decision] = []
        for item in data.evaluations:
            decision = await _item(current, revision, data, item, services=services, caller=caller)
            if semantic == "deny_on_first_deny" and not decision.decision:
                context = dict(decision.context or {})
                context.setdefault("code", "200")
                context.setdefault("reason", "deny_on_first_deny")
                out.append(az.Decision(decision=False, context=context))
                break
            out.append(decision)
            if semantic == "permit_on_first_permit" and decision.decision:
                break
        return az.EvaluationsResponse(evaluations=out)

    @post(
        "/search/subject",
        operation_id="AuthZenSearchSubject",
        status_code=200,
        responses=problem_responses(422),
    )
    async def search_subject(
        self,
        data: JSONBody[az.SearchEntityRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> az.SearchResponse:
        """Subjects of ``subject.type`` that may do ``action`` on ``resource`` (transitively)."""
        if data.resource.id is None:
            raise errors.InvalidInputError("resource.id is required for a subject search")
        resource = resource_ref(data.resource, data.resource.id)
        limit, token = _page(data.page, services)
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        try:
            page = await checks.lookup_subjects(
                current,
                resource,
                data.action.name,
                data.subject.type,
                revision=revision,
                context=caveat_context(data.context, data.subject, data.resource, data.action),
                limit=limit,
                cursor=token,
            )
        except (errors.UnknownTypeError, errors.UnknownRelationError) as exc:
            return _empty(exc)
        results = []
        for item in page.items:
            found = az.SearchEntity(type=item.subject.type, id=decode_id(item.subject.id))
            if item.permissionship is Permissionship.HAS_PERMISSION or (
                item.permissionship is Permissionship.CONDITIONAL
                and not item.subject.is_wildcard
                and item.subject.relation is None
                and await settle(current, revision, found, data.resource, data.action, data.context)
            ):
                results.append({"type": found.type, "id": found.id})
        return az.SearchResponse(
            page=az.PageResponse(next_token=page.cursor or "", count=len(results)), results=results
        )

    @post(
        "/search/resource",
        operation_id="AuthZenSearchResource",
        status_code=200,
        responses=problem_responses(422),
    )
    async def search_resource(
        self,
        data: JSONBody[az.SearchEntityRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> az.SearchResponse:
        """Resources of ``resource.type`` on which ``subject`` may do ``action``."""
        if data.subject.id is None:
            raise errors.InvalidInputError("subject.id is required for a resource search")
        subject = entity_ref(data.subject.type, data.subject.id, what="subject")
        limit, token = _page(data.page, services)
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        try:
            page = await checks.lookup_resources(
                current,
                data.resource.type,
                data.action.name,
                subject,
                revision=revision,
                context=caveat_context(data.context, data.subject, data.resource, data.action),
                limit=limit,
                cursor=token,
            )
        except (errors.UnknownTypeError, errors.UnknownRelationError) as exc:
            return _empty(exc)
        results = []
        for item in page.items:
            found = az.SearchEntity(type=data.resource.type, id=decode_id(item.resource_id))
            if item.permissionship is Permissionship.HAS_PERMISSION or (
                item.permissionship is Permissionship.CONDITIONAL
                and await settle(current, revision, data.subject, found, data.action, data.context)
            ):
                results.append({"type": found.type, "id": found.id})
        return az.SearchResponse(
            page=az.PageResponse(next_token=page.cursor or "", count=len(results)), results=results
        )

    @post(
        "/search/action",
        operation_id="AuthZenSearchAction",
        status_code=200,
        responses=problem_responses(422),
    )
    async def search_action(
        self,
        data: JSONBody[az.SearchActionRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> az.SearchResponse:
        """Permissions of the resource's type that ``subject`` has on ``resource`` (one page)."""
        if data.page is not None and data.page.token:
            raise errors.InvalidTokenError("action search has a single page; page.token must be empty")
        resource = resource_ref(data.resource, data.resource.id)
        subject = entity_ref(data.subject.type, data.subject.id, what="subject")
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        try:
            granted = await checks.permissions(
                current,
                resource,
                subject,
                revision=revision,
                context=caveat_context(data.context, data.subject, data.resource, None),
            )
        except (errors.UnknownTypeError, errors.UnknownRelationError) as exc:
            return _empty(exc)
        results: list[dict[str, Any]] = [{"name": name} for name in granted]
        return az.SearchResponse(page=az.PageResponse(next_token="", count=len(results)), results=results)


class WellKnownController(Controller):
    """``/.well-known/authzen-configuration`` (public)."""

    path = "/.well-known"
    tags = ["authzen"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/authzen-configuration", operation_id="AuthZenConfiguration")
    async def configuration(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The PDP metadata: its identifier, endpoint URLs and capabilities."""
        base = str(request.base_url).rstrip("/")
        return {
            "policy_decision_point": base,
            "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
            "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
            "search_subject_endpoint": f"{base}/access/v1/search/subject",
            "search_resource_endpoint": f"{base}/access/v1/search/resource",
            "search_action_endpoint": f"{base}/access/v1/search/action",
            "access_request_endpoint": f"{base}/access/v1/requests",
            "capabilities": list(CAPABILITIES),
        }
