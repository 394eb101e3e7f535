"""``POST /v1/least-privilege`` and ``POST /v1/what-if`` (scope ``admin``): the two analyses.

Thin: DTO -> :class:`rebac.services.least_privilege.LeastPrivilege` /
:class:`rebac.services.what_if.WhatIf` -> DTO. A bad window length, subject, schema (its
diagnostics are positioned in the problem's ``errors``) or changes line (``line`` and
``column``) is a problem; neither analysis writes anything (the what-if replay reads an overlay
of the store's snapshot, and records no decision).
"""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from rebac.api.auth import require_scope
from rebac.api.controllers.blast_radius import step_dto
from rebac.api.convert import object_dto, subject_dto, subject_of
from rebac.api.dto import (
    FlipInfo,
    HeldPermissionInfo,
    LeastPrivilegeRequest,
    LeastPrivilegeResponse,
    UnreplayableInfo,
    UsedPermissionInfo,
    WhatIfRequest,
    WhatIfResponse,
    ZedToken,
)
from rebac.api.problems import problem_responses
from rebac.refs import external
from rebac.services.core import Services
from rebac.services.least_privilege import LeastPrivilegeReport
from rebac.services.replaying import format_since, parse_since
from rebac.services.types import Current
from rebac.services.what_if import WhatIfReport

__all__ = ["AnalysisController", "least_privilege_dto", "what_if_dto"]


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def least_privilege_dto(report: LeastPrivilegeReport) -> LeastPrivilegeResponse:
    """The report as its response body."""
    return LeastPrivilegeResponse(
        subject=subject_dto(report.subject),
        since=format_since(report.since),
        window_start=_time(report.window_start),
        now=_time(report.now),
        read_at=ZedToken(report.token),
        held=report.held,
        held_raw=report.held_raw,
        used=report.used,
        unused=[
            HeldPermissionInfo(
                resource=object_dto(h.resource),
                permission=h.permission,
                conditional=h.conditional,
                path=[step_dto(s) for s in h.path],
                carried_by=list(h.carried_by),
            )
            for h in report.unused
        ],
        used_permissions=[
            UsedPermissionInfo(u.resource, u.permission, u.uses, _time(u.last_used))
            for u in report.used_permissions
        ],
        removable=[str(external(rel)) for rel in report.removable],
        protected=report.protected,
        delegates=[subject_dto(d) for d in report.delegates],
        truncated=report.truncated,
        message=report.message,
        truncated_reason=report.truncated_reason,
    )


def what_if_dto(report: WhatIfReport) -> WhatIfResponse:
    """The replay as its response body."""
    return WhatIfResponse(
        since=format_since(report.since),
        window_start=_time(report.window_start),
        now=_time(report.now),
        read_at=ZedToken(report.token),
        schema_changed=report.schema_changed,
        schema_version=report.schema_version,
        changes=report.changes,
        decisions=report.decisions,
        skipped=report.skipped,
        unique=report.unique,
        unchanged=report.unchanged,
        flipped=report.flipped,
        revoked=report.revoked,
        granted=report.granted,
        flips=[
            FlipInfo(
                f.decision_id, _time(f.decided_at), f.subject, f.resource, f.permission, f.old, f.new, f.kind
            )
            for f in report.flips
        ],
        unreplayable=[
            UnreplayableInfo(
                u.decision_id,
                _time(u.decided_at),
                u.subject,
                u.resource,
                u.permission,
                u.old,
                u.reason,
                u.message,
            )
            for u in report.unreplayable
        ],
        subjects_affected=list(report.subjects_affected),
        limit=report.limit,
        truncated=report.truncated,
        message=report.message,
    )


class AnalysisController(Controller):
    """Least privilege and what-if replay (scope ``admin``)."""

    path = "/v1"
    guards = [require_scope("admin")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["analysis"]  # noqa: RUF012

    @post(
        "/least-privilege", operation_id="LeastPrivilege", status_code=200, responses=problem_responses(422)
    )
    async def least_privilege(
        self,
        data: JSONBody[LeastPrivilegeRequest],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> LeastPrivilegeResponse:
        """What ``subject`` holds against what it used in the window, and the grants it can lose.

        Held: its effective reach (permissions); used: its allowed decisions in the log. Every
        grant listed in ``removable`` was proven: with all of them removed, every used check (its
        own and its delegates') is still allowed.
        """
        report = await services.least_privilege.report(
            current, subject_of(data.subject), parse_since(data.since)
        )
        return least_privilege_dto(report)

    @post("/what-if", operation_id="WhatIf", status_code=200, responses=problem_responses(422))
    async def what_if(
        self,
        data: JSONBody[WhatIfRequest],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> WhatIfResponse:
        """Replay the window's logged decisions under a proposed schema and/or relationship changes.

        Every decision that would flip, with the subjects affected, and every decision that could
        not be replayed. Runs on an overlay of the store's snapshot: the store is never changed.
        """
        report = await services.what_if.replay(
            current,
            schema_text=data.schema,
            changes_text=data.relationships,
            since=parse_since(data.since),
            limit=data.limit,
        )
        return what_if_dto(report)
