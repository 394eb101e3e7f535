"""``POST /v1/blast-radius`` (scope ``admin``): what a subject can reach, or who can reach a resource.

Thin: DTO -> refs -> :func:`rebac.services.blast_radius.blast_radius` /
:func:`~rebac.services.blast_radius.who_can_reach` -> DTO, or the networkx export (node-link JSON
or GraphML) when ``format`` asks for a graph. The budget is bounded by
:data:`rebac.limits.EXPAND_NODE_BUDGET`; asking for more is a ``limit-exceeded`` problem.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from rebac.api.auth import require_scope
from rebac.api.convert import consistency_of, object_dto, object_of, subject_dto, subject_of
from rebac.api.dto import (
    BlastRadiusRequest,
    BlastRadiusResponse,
    PermissionshipValue,
    ReachEntryInfo,
    ReachGroupInfo,
    ReachPathStep,
    ZedToken,
)
from rebac.api.problems import problem_responses
from rebac.errors import InvalidInputError
from rebac.services.blast_radius import BlastRadius, PathStep, ReachEntry, WhoCanReach, to_graphml, to_json
from rebac.services.core import Services
from rebac.services.reach import MAX_BUDGET
from rebac.services.types import Current, Permissionship

__all__ = ["MAX_BLAST_RADIUS_BUDGET", "BlastRadiusController", "step_dto"]

MAX_BLAST_RADIUS_BUDGET: Final = MAX_BUDGET
"""The largest ``budget`` a request may ask for (and the default)."""

GRAPHML_MEDIA_TYPE: Final = "application/xml"
JSON_MEDIA_TYPE: Final = "application/json"

_VALUES: Final[dict[Permissionship, PermissionshipValue]] = {
    Permissionship.NO_PERMISSION: "PERMISSIONSHIP_NO_PERMISSION",
    Permissionship.HAS_PERMISSION: "PERMISSIONSHIP_HAS_PERMISSION",
    Permissionship.CONDITIONAL: "PERMISSIONSHIP_CONDITIONAL_PERMISSION",
}


def step_dto(step: PathStep) -> ReachPathStep:
    """A path step as its DTO."""
    return ReachPathStep(step.source, step.target, step.kind.value, step.detail, step.caveat)


def _entry(entry: ReachEntry) -> ReachEntryInfo:
    return ReachEntryInfo(
        resource=object_dto(entry.resource),
        permission=entry.permission,
        subject=subject_dto(entry.subject),
        raw=_VALUES[entry.raw],
        conditional=entry.conditional,
        capped=entry.capped,
        path=[step_dto(step) for step in entry.path],
        effective=None if entry.effective is None else _VALUES[entry.effective],
        missing_required_context=sorted(entry.missing),
    )


def _response(result: BlastRadius | WhoCanReach, token: ZedToken) -> BlastRadiusResponse:
    groups = [
        ReachGroupInfo(
            resource_type=group.resource_type,
            permission=group.permission,
            raw_count=group.raw_count,
            effective_count=group.effective_count,
            entries=[_entry(entry) for entry in group.entries],
        )
        for group in result.groups
    ]
    out = BlastRadiusResponse(
        view="blast_radius",
        read_at=token,
        raw_only=result.raw_only,
        groups=groups,
        nodes_visited=result.nodes_visited,
        budget=result.budget,
        truncated=result.truncated,
        truncated_at=result.truncated_at,
        message=result.message,
    )
    if isinstance(result, BlastRadius):
        out.subject = subject_dto(result.subject)
        out.delegated = result.delegated
    else:
        out.view = "who_can_reach"
        out.resource = object_dto(result.resource)
    return out


class BlastRadiusController(Controller):
    """Blast radius and its reverse view (scope ``admin``)."""

    path = "/v1"
    guards = [require_scope("admin")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["blast radius"]  # noqa: RUF012

    @post(
        "/blast-radius",
        operation_id="BlastRadius",
        status_code=200,
        responses=problem_responses(422),
        response_description="JSON by default; GraphML (application/xml) with format graphml",
    )
    async def blast_radius(
        self,
        data: JSONBody[BlastRadiusRequest],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> Response[Any]:
        """Everything ``subject`` can reach, or (``reverse``) everyone who can reach ``resource``.

        Raw and effective reach with one path per entry, bounded by ``budget``.
        """
        revision = await services.checks.revision(current, consistency_of(data.consistency))
        result: BlastRadius | WhoCanReach
        if data.reverse:
            if data.resource is None:
                raise InvalidInputError("a reverse blast radius needs a resource")
            result = await services.reach.who_can_reach(
                current,
                object_of(data.resource),
                data.permission or None,
                revision=revision,
                budget=data.budget,
                raw_only=data.raw_only,
            )
        else:
            if data.subject is None:
                raise InvalidInputError("a blast radius needs a subject")
            result = await services.reach.blast_radius(
                current,
                subject_of(data.subject),
                revision=revision,
                budget=data.budget,
                resource_types=None if not data.resource_type else [data.resource_type],
                permissions=None if not data.permission else [data.permission],
                raw_only=data.raw_only,
            )
        if data.format == "graphml":
            return Response(to_graphml(result).encode(), media_type=GRAPHML_MEDIA_TYPE)
        if data.format == "json-graph":
            return Response(to_json(result).encode(), media_type=JSON_MEDIA_TYPE)
        return Response(_response(result, ZedToken(services.token_for(revision))))
