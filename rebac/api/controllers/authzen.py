"""OpenID AuthZEN 1.0: evaluation, evaluations (boxcarring), searches, and discovery metadata.

``action.name`` is the permission, ``subject``/``resource`` ``{type, id}`` are objects, ``context``
feeds caveats and ``subject.properties.via`` carries the delegation call chain. A deny is
``200 {"decision": false}``; a conditional result (a caveat lacks context) is a deny that names the
missing parameters, and a deny decided by a delegation link names the hop that failed. Errors of
one item of a batch are reported in that item (``context.error``), never as the batch's status.
``X-Rebac-Consistency-Token`` (an addition) makes the decision at least as fresh as a write's token
(the new-enemy guard).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from rebac import errors
from rebac.api.auth import require_scope
from rebac.api.deps import caller_of
from rebac.api.dto import authzen as az
from rebac.api.hot import hot_route
from rebac.api.problems import problem_for, problem_responses
from rebac.refs import ObjectRef, SubjectRef, parse_object, parse_subject
from rebac.services.bounds import check_batch
from rebac.services.checks import decision_id_of
from rebac.services.core import Services
from rebac.services.types import CheckResult, Current, HopReason, Permissionship, Revision

__all__ = ["AuthZenController", "WellKnownController", "evaluation_decision"]

TOKEN_HEADER: Final = "x-rebac-consistency-token"  # noqa: S105 - a header name, not a secret
_DEFAULT_PAGE: Final = 100


def _subject(entity: az.Entity) -> SubjectRef:
    return parse_subject(f"{entity.type}:{entity.id}")


def _resource(entity: az.Entity) -> ObjectRef:
    return parse_object(f"{entity.type}:{entity.id}")


def _via(subject: az.Entity) -> tuple[SubjectRef, ...] | None:
    """``subject.properties.via``: the call chain, as ``"type:id"`` strings or ``{type, id}`` objects."""
    raw = (subject.properties or {}).get("via")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise errors.InvalidInputError("subject.properties.via must be a list")
    chain: list[SubjectRef] = []
    for entry in raw:
        if isinstance(entry, str):
            chain.append(parse_subject(entry))
        elif (
            isinstance(entry, dict)
            and isinstance(entry.get("type"), str)
            and isinstance(entry.get("id"), str)
        ):
            chain.append(parse_subject(f"{entry['type']}:{entry['id']}"))
        else:
            raise errors.InvalidInputError('subject.properties.via entries are "type:id" or {"type", "id"}')
    return tuple(chain) or None


def _decision(result: CheckResult) -> az.Decision:
    if result.permissionship is Permissionship.HAS_PERMISSION:
        return az.Decision(decision=True)
    hop = result.failed_hop
    if hop is not None and (hop.depth > 0 or hop.reason is not HopReason.DENIED):
        # the subject's own grants sufficed or were not the point: a link of its chain failed
        failed = {"type": hop.subject.type, "id": hop.subject.id, "reason": hop.reason.value}
        return az.Decision(decision=False, context={"reason": "delegation", "failed_hop": failed})
    if result.permissionship is Permissionship.CONDITIONAL:
        return az.Decision(
            decision=False, context={"reason": "conditional", "missing_context": sorted(result.missing)}
        )
    return az.Decision(decision=False)


def _error_decision(exc: Exception) -> az.Decision:
    problem = problem_for(exc)
    return az.Decision(
        decision=False,
        context={
            "error": {"status": problem.kind.status, "message": problem.detail, "type": problem.kind.type}
        },
    )


def _merge(base: dict[str, Any] | None, item: dict[str, Any] | None) -> dict[str, Any] | None:
    if base is None:
        return item
    return {**base, **(item or {})}


def _with_id(decision: az.Decision, decision_id: str | None) -> az.Decision:
    """``decision`` with its decision-log id in ``context.decision_id`` (when recorded)."""
    if decision_id is None:
        return decision
    return az.Decision(
        decision=decision.decision, context={**(decision.context or {}), "decision_id": decision_id}
    )


async def _evaluate(  # noqa: PLR0917 - the four AuthZEN members, positionally as in the spec
    current: Current,
    revision: Revision,
    subject: az.Entity,
    resource: az.Entity,
    action: az.Action,
    context: dict[str, Any] | None,
    *,
    services: Services,
    caller: str | None,
) -> az.Decision:
    decision = await services.checks.decide(
        current,
        caller,
        "authzen",
        revision,
        (_resource(resource), action.name, _subject(subject)),
        context=context,
        via=_via(subject),
    )
    return _with_id(_decision(decision.result), decision.decision_id)


async def evaluation_decision(
    services: Services,
    current: Current,
    caller: str | None,
    data: az.EvaluationRequest,
    token: str | None,
) -> az.Decision:
    """Answer one ``POST /access/v1/evaluation`` (the handler and its hot route both call this).

    ``token`` is the ``X-Rebac-Consistency-Token`` header, if sent.
    """
    revision = await services.checks.revision_for_token(current, token)
    return await _evaluate(
        current,
        revision,
        data.subject,
        data.resource,
        data.action,
        data.context,
        services=services,
        caller=caller,
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
            services, current, caller_of(request), data, request.headers.get(TOKEN_HEADER)
        )

    @post(
        "/evaluations", operation_id="AuthZenEvaluations", status_code=200, responses=problem_responses(422)
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
            if data.subject is None or data.resource is None or data.action is None:
                raise errors.InvalidInputError(
                    "subject, resource and action are required without evaluations"
                )
            single = await _evaluate(
                current,
                revision,
                data.subject,
                data.resource,
                data.action,
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
            subject, resource, action = (
                item.subject or data.subject,
                item.resource or data.resource,
                item.action or data.action,
            )
            try:
                if subject is None or resource is None or action is None:
                    raise errors.InvalidInputError(
                        "subject, resource and action are required (item or default)"
                    )
                decision = await _evaluate(
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
                decision = _with_id(_error_decision(exc), decision_id_of(exc))
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
        limit, token = _page(data.page, services)
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        page = await checks.lookup_subjects(
            current,
            parse_object(f"{data.resource.type}:{data.resource.id}"),
            data.action.name,
            data.subject.type,
            revision=revision,
            context=data.context,
            limit=limit,
            cursor=token,
        )
        results = [
            {"type": item.subject.type, "id": item.subject.id}
            for item in page.items
            if item.permissionship is Permissionship.HAS_PERMISSION
        ]
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
        limit, token = _page(data.page, services)
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        page = await checks.lookup_resources(
            current,
            data.resource.type,
            data.action.name,
            parse_subject(f"{data.subject.type}:{data.subject.id}"),
            revision=revision,
            context=data.context,
            limit=limit,
            cursor=token,
        )
        results = [
            {"type": data.resource.type, "id": item.resource_id}
            for item in page.items
            if item.permissionship is Permissionship.HAS_PERMISSION
        ]
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
        resource, subject = _resource(data.resource), _subject(data.subject)
        checks = services.checks
        revision = await checks.revision_for_token(current, request.headers.get(TOKEN_HEADER))
        granted = await checks.permissions(
            current, resource, subject, revision=revision, context=data.context
        )
        results: list[dict[str, Any]] = [{"name": name} for name in granted]
        return az.SearchResponse(page=az.PageResponse(next_token="", count=len(results)), results=results)


class WellKnownController(Controller):
    """``/.well-known/authzen-configuration`` (public)."""

    path = "/.well-known"
    tags = ["authzen"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/authzen-configuration", operation_id="AuthZenConfiguration")
    async def configuration(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The PDP metadata: its identifier and endpoint URLs."""
        base = str(request.base_url).rstrip("/")
        return {
            "policy_decision_point": base,
            "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
            "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
            "search_subject_endpoint": f"{base}/access/v1/search/subject",
            "search_resource_endpoint": f"{base}/access/v1/search/resource",
            "search_action_endpoint": f"{base}/access/v1/search/action",
        }
