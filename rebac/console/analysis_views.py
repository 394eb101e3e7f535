"""View models of the two analyses: the what-if report and the least-privilege report.

Pure functions over :class:`~rebac.services.what_if.WhatIfReport` and
:class:`~rebac.services.least_privilege.LeastPrivilegeReport`; long lists are cut at
:data:`MAX_ROWS` (the counts stay complete, and the page says how many are not listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from rebac.services.least_privilege import LeastPrivilegeReport
from rebac.services.replaying import format_since
from rebac.services.what_if import WhatIfReport

__all__ = [
    "MAX_ROWS",
    "FlipView",
    "HeldView",
    "LeastPrivilegeView",
    "UnreplayableView",
    "UsedView",
    "WhatIfView",
    "least_privilege_view",
    "what_if_view",
]

MAX_ROWS: Final = 500
"""Rows a table of either report lists."""


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Analysis:
    """What both reports show first: the one-line message, the window and the snapshot."""

    message: str
    since: str
    window: str
    revision: str


def _analysis(report: WhatIfReport | LeastPrivilegeReport) -> dict[str, str]:
    return {
        "message": report.message,
        "since": format_since(report.since),
        "window": f"{_when(report.window_start)} to {_when(report.now)} UTC",
        "revision": report.revision,
    }


@dataclass(frozen=True, slots=True)
class _Logged:
    """A logged decision, as both of the what-if report's tables start a row."""

    decision_id: str
    when: str
    subject: str
    permission: str
    resource: str
    old: str


@dataclass(frozen=True, slots=True)
class FlipView(_Logged):
    """One decision that would flip."""

    new: str
    kind: str


@dataclass(frozen=True, slots=True)
class UnreplayableView(_Logged):
    """One decision that could not be decided again."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIfView(_Analysis):
    """The what-if report as the schema page shows it."""

    schema_changed: bool
    schema_version: int
    changes: int
    decisions: int
    unique: int
    unchanged: int
    flipped: int
    revoked: int
    granted: int
    subjects: tuple[str, ...]
    flips: tuple[FlipView, ...]
    unreplayable: tuple[UnreplayableView, ...]
    unreplayable_total: int
    truncated: bool

    @property
    def unlisted(self) -> int:
        """Flips counted but not listed."""
        return self.flipped - len(self.flips)


def what_if_view(report: WhatIfReport) -> WhatIfView:
    """The view of a what-if report (the first :data:`MAX_ROWS` flips and unreplayable decisions)."""
    return WhatIfView(
        **_analysis(report),
        schema_changed=report.schema_changed,
        schema_version=report.schema_version,
        changes=report.changes,
        decisions=report.decisions,
        unique=report.unique,
        unchanged=report.unchanged,
        flipped=report.flipped,
        revoked=report.revoked,
        granted=report.granted,
        subjects=report.subjects_affected,
        flips=tuple(
            FlipView(
                f.decision_id, _when(f.decided_at), f.subject, f.permission, f.resource, f.old, f.new, f.kind
            )
            for f in report.flips[:MAX_ROWS]
        ),
        unreplayable=tuple(
            UnreplayableView(
                u.decision_id,
                _when(u.decided_at),
                u.subject,
                u.permission,
                u.resource,
                u.old,
                u.reason,
                u.message,
            )
            for u in report.unreplayable[:MAX_ROWS]
        ),
        unreplayable_total=len(report.unreplayable),
        truncated=report.truncated,
    )


@dataclass(frozen=True, slots=True)
class UsedView:
    """One permission used in the window."""

    resource: str
    permission: str
    uses: int
    last_used: str


@dataclass(frozen=True, slots=True)
class HeldView:
    """One held permission not used in the window, and the relationships that carry it."""

    resource: str
    permission: str
    conditional: bool
    carried_by: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LeastPrivilegeView(_Analysis):
    """The least-privilege report as the page shows it."""

    subject: str
    held: int
    held_raw: int
    used: int
    used_permissions: tuple[UsedView, ...]
    unused: tuple[HeldView, ...]
    unused_total: int
    removable: tuple[str, ...]
    protected: int
    delegates: tuple[str, ...]
    truncated: str | None


def least_privilege_view(report: LeastPrivilegeReport) -> LeastPrivilegeView:
    """The view of a least-privilege report (the first :data:`MAX_ROWS` rows of each list)."""
    return LeastPrivilegeView(
        **_analysis(report),
        subject=str(report.subject),
        held=report.held,
        held_raw=report.held_raw,
        used=report.used,
        used_permissions=tuple(
            UsedView(u.resource, u.permission, u.uses, _when(u.last_used))
            for u in report.used_permissions[:MAX_ROWS]
        ),
        unused=tuple(
            HeldView(str(h.resource), h.permission, h.conditional, h.carried_by)
            for h in report.unused[:MAX_ROWS]
        ),
        unused_total=len(report.unused),
        removable=tuple(str(r) for r in report.removable),
        protected=report.protected,
        delegates=tuple(str(d) for d in report.delegates),
        truncated=report.truncated_reason if report.truncated else None,
    )
