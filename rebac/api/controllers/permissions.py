"""``/v1/permissions/*``: check, bulk check, expand, lookup resources and lookup subjects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Stream

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import ndjson, page_limit, wants_ndjson
from rebac.api.deps import SOURCE_HEADER, caller_of, decision_source
from rebac.api.hot import hot_route
from rebac.api.problems import problem_for, problem_responses
from rebac.errors import EvaluationError
from rebac.refs import decode_id, format_expiration
from rebac.services.bounds import check_batch
from rebac.services.checks import decision_id_of
from rebac.services.core import Services
from rebac.services.types import CheckResult, Current, LookupResourceItem, LookupSubjectItem

__all__ = ["PermissionsController", "check_response"]


def _item(result: CheckResult) -> dto.CheckBulkResult:
    return dto.CheckBulkResult(
        permissionship=result.permissionship.value,
        partial_caveat_info=convert.partial(result.missing),
        delegation=convert.hops_dto(result.delegation),
    )


def _resource_result(item: LookupResourceItem, token: dto.ZedToken) -> dto.LookupResourcesResult:
    return dto.LookupResourcesResult(
        looked_up_at=token,
        resource_object_id=decode_id(item.resource_id),
        permissionship=convert.lookup_permissionship(item.permissionship),
        partial_caveat_info=convert.partial(item.missing),
    )


def _subject_result(item: LookupSubjectItem, token: dto.ZedToken) -> dto.LookupSubjectsResult:
    return dto.LookupSubjectsResult(
        looked_up_at=token,
        subject=dto.ResolvedSubject(
            subject_object_id=decode_id(item.subject.id),
            permissionship=convert.lookup_permissionship(item.permissionship),
            partial_caveat_info=convert.partial(item.missing),
        ),
        excluded_subjects=[
            dto.ResolvedSubject(
                subject_object_id=decode_id(ex.id), permissionship="LOOKUP_PERMISSIONSHIP_HAS_PERMISSION"
            )
            for ex in item.excluded
        ],
    )


async def check_response(
    services: Services,
    current: Current,
    caller: str | None,
    data: dto.CheckRequest,
    _token_header: str | None,
    source_label: str | None = None,
) -> dto.CheckResponse:
    """Answer one ``POST /v1/permissions/check`` (the handler and its hot route both call this).

    ``source_label`` is the ``X-Rebac-Decision-Source`` header (:func:`rebac.api.deps.decision_source`).
    """
    source = decision_source("check", source_label)
    resource, subject = convert.object_of(data.resource), convert.subject_of(data.subject)
    checks = services.checks
    current = await checks.pinned(current, data.optional_schema_version)
    revision = await checks.revision(current, convert.consistency_of(data.consistency))
    decision = await checks.decide(
        current,
        caller,
        source,
        revision,
        (resource, data.permission, subject),
        context=data.context,
        via=convert.via_of(data.optional_via) if data.optional_via else None,
        traced=data.with_tracing,
    )
    result = decision.result
    debug = None
    if decision.trace is not None:
        debug = dto.DebugInformation(
            check=convert.trace_dto(decision.trace), schema_used=current.version.text
        )
    return dto.CheckResponse(
        checked_at=dto.ZedToken(services.token_for(revision)),
        permissionship=result.permissionship.value,
        partial_caveat_info=convert.partial(result.missing) if result.missing else None,
        debug_trace=debug,
        optional_expires_at=format_expiration(result.expires_at) if result.expires_at else None,
        delegation=convert.hops_dto(result.delegation) if result.delegation else None,
        decision_id=decision.decision_id,
    )


class PermissionsController(Controller):
    """Decisions and lookups (scope ``check``)."""

    path = "/v1/permissions"
    guards = [require_scope("check")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["permissions"]  # noqa: RUF012

    @post(
        "/check",
        operation_id="CheckPermission",
        status_code=200,
        responses=problem_responses(422),
        middleware=[hot_route(dto.CheckRequest, check_response)],
    )
    async def check(
        self,
        data: JSONBody[dto.CheckRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> dto.CheckResponse:
        """May ``subject`` do ``permission`` on ``resource``? A deny is a 200 with NO_PERMISSION."""
        return await check_response(
            services, current, caller_of(request), data, None, request.headers.get(SOURCE_HEADER)
        )

    @post(
        "/checkbulk", operation_id="CheckBulkPermissions", status_code=200, responses=problem_responses(422)
    )
    async def check_bulk(
        self,
        data: JSONBody[dto.CheckBulkRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> dto.CheckBulkResponse:
        """Many checks at one revision; a failing item carries its error (treat it as a deny)."""
        check_batch(
            len(data.items), services.settings.api.max_bulk_items, limit="MAX_BULK_CHECK_ITEMS", what="items"
        )
        source = decision_source("checkbulk", request.headers.get(SOURCE_HEADER))
        # A malformed reference is a malformed request (400, as SpiceDB's request validation);
        # what the schema says of well-formed ones (an unknown type, a denial) is per item.
        parsed = [
            (
                (
                    convert.object_of(raw.resource),
                    convert.permission_of(raw.permission),
                    convert.subject_of(raw.subject),
                ),
                convert.via_of(raw.optional_via),
            )
            for raw in data.items
        ]
        checks = services.checks
        revision = await checks.revision(current, convert.consistency_of(data.consistency))
        caller = caller_of(request)
        pairs: list[dto.CheckBulkPair] = []
        for raw, (check, via) in zip(data.items, parsed, strict=True):
            try:
                decision = await checks.decide(
                    current,
                    caller,
                    source,
                    revision,
                    check,
                    context=raw.context,
                    via=via,
                    traced=data.with_tracing,
                )
                found = _item(decision.result)
                if decision.trace is not None:
                    found.debug_trace = dto.DebugInformation(check=convert.trace_dto(decision.trace))
                pairs.append(dto.CheckBulkPair(request=raw, item=found, decision_id=decision.decision_id))
            except (EvaluationError, ValueError, LookupError) as exc:
                problem = problem_for(exc)
                status = dto.Status(
                    code=problem.kind.status, message=problem.detail, details=[problem.body()]
                )
                pairs.append(dto.CheckBulkPair(request=raw, error=status, decision_id=decision_id_of(exc)))
        return dto.CheckBulkResponse(checked_at=dto.ZedToken(services.token_for(revision)), pairs=pairs)

    @post("/expand", operation_id="ExpandPermissionTree", status_code=200, responses=problem_responses(422))
    async def expand(
        self,
        data: JSONBody[dto.ExpandRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
    ) -> dto.ExpandResponse:
        """The userset tree of ``resource#permission``."""
        checks = services.checks
        revision = await checks.revision(current, convert.consistency_of(data.consistency))
        tree = await checks.expand(
            current, convert.object_of(data.resource), data.permission, revision=revision
        )
        return dto.ExpandResponse(
            expanded_at=dto.ZedToken(services.token_for(revision)), tree_root=convert.tree_dto(tree)
        )

    @post("/resources", operation_id="LookupResources", status_code=200, responses=problem_responses(422))
    async def lookup_resources(
        self,
        data: JSONBody[dto.LookupResourcesRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> dto.LookupResourcesResponse | Stream:
        """Resources of a type the subject has the permission on: one page, or NDJSON."""
        checks = services.checks
        subject = convert.subject_of(data.subject)
        stream_all, limit = _lookup_size(request, data.optional_limit, services)
        revision = await checks.revision(current, convert.consistency_of(data.consistency))
        token = dto.ZedToken(services.token_for(revision))

        async def fetch(cursor: str | None) -> tuple[list[dto.LookupResourcesResult], str | None]:
            page = await checks.lookup_resources(
                current,
                data.resource_object_type,
                data.permission,
                subject,
                revision=revision,
                context=data.context,
                limit=limit,
                cursor=cursor,
            )
            results = [_resource_result(item, token) for item in page.items]
            return results, page.cursor

        first_cursor = data.optional_cursor.token if data.optional_cursor else None
        if wants_ndjson(request):
            return ndjson(_pages(fetch, first_cursor, follow=stream_all))
        results, after = _mark_page(*await fetch(first_cursor))
        return dto.LookupResourcesResponse(looked_up_at=token, results=results, after_result_cursor=after)

    @post("/subjects", operation_id="LookupSubjects", status_code=200, responses=problem_responses(422))
    async def lookup_subjects(
        self,
        data: JSONBody[dto.LookupSubjectsRequest],
        current: NamedDependency[Current],
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
    ) -> dto.LookupSubjectsResponse | Stream:
        """Subjects of a type with the permission on a resource: one page, or NDJSON."""
        checks = services.checks
        resource = convert.object_of(data.resource)
        stream_all, limit = _lookup_size(
            request, data.optional_concrete_limit, services, name="optionalConcreteLimit"
        )
        revision = await checks.revision(current, convert.consistency_of(data.consistency))
        token = dto.ZedToken(services.token_for(revision))
        exclude_wildcards = data.wildcard_option == "WILDCARD_OPTION_EXCLUDE_WILDCARDS"

        async def fetch(cursor: str | None) -> tuple[list[dto.LookupSubjectsResult], str | None]:
            page = await checks.lookup_subjects(
                current,
                resource,
                data.permission,
                data.subject_object_type,
                data.optional_subject_relation or None,
                revision=revision,
                context=data.context,
                limit=limit,
                cursor=cursor,
            )
            items = [i for i in page.items if not (exclude_wildcards and i.subject.is_wildcard)]
            return [_subject_result(item, token) for item in items], page.cursor

        first_cursor = data.optional_cursor.token if data.optional_cursor else None
        if wants_ndjson(request):
            return ndjson(_pages(fetch, first_cursor, follow=stream_all))
        results, after = _mark_page(*await fetch(first_cursor))
        return dto.LookupSubjectsResponse(looked_up_at=token, results=results, after_result_cursor=after)


def _lookup_size(
    request: Request[Any, Any, Any], requested: int | None, services: Services, *, name: str = "optionalLimit"
) -> tuple[bool, int]:
    """``(stream_all, page_size)``: NDJSON with no limit streams every page at the largest size."""
    api = services.settings.api
    stream_all = wants_ndjson(request) and not requested
    return stream_all, api.max_page_size if stream_all else page_limit(requested, api, name=name)


def _mark_page(results: list[Any], next_cursor: str | None) -> tuple[list[Any], dto.Cursor | None]:
    """Put the resume cursor on a page's last result; return the page and the cursor."""
    after = dto.Cursor(next_cursor) if next_cursor else None
    if results and after:
        results[-1].after_result_cursor = after
    return results, after


async def _pages(fetch: Any, cursor: str | None, *, follow: bool) -> AsyncIterator[Any]:
    """Yield the results of one page (``follow=False``) or of all pages.

    A page's last result carries the cursor to resume after it.
    """
    while True:
        results, next_cursor = await fetch(cursor)
        _mark_page(results, next_cursor)
        for result in results:
            yield result
        if not follow or not next_cursor:
            return
        cursor = next_cursor
