"""DTOs of ``POST /v1/least-privilege`` and ``POST /v1/what-if`` (additions; scope ``admin``).

They mirror :class:`rebac.services.least_privilege.LeastPrivilegeReport` and
:class:`rebac.services.what_if.WhatIfReport`. Window lengths are text (``30d``, ``24h``, ``90m``,
``45s``, ``2w``); times are ISO 8601 UTC; relationships are the one text syntax, ids as callers
wrote them. The truncation fields are always present, so a partial answer is never mistaken for
a complete one.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from rebac import limits
from rebac.api.dto._blast_radius import ReachPathStep
from rebac.api.dto._core import ObjectReference, SubjectReference, ZedToken, _In, _Out

__all__ = [
    "FlipInfo",
    "HeldPermissionInfo",
    "LeastPrivilegeRequest",
    "LeastPrivilegeResponse",
    "LoggedDecisionInfo",
    "Since",
    "UnreplayableInfo",
    "UsedPermissionInfo",
    "WhatIfRequest",
    "WhatIfResponse",
]


SINCE_PATTERN: Final = r"^[1-9][0-9]{0,8}[smhdw]$"

Since = Annotated[
    str,
    msgspec.Meta(
        pattern=SINCE_PATTERN,
        description="A window length: a whole number of s, m, h, d or w (30d, 24h, 90m, 45s, 2w).",
        examples=["30d", "24h"],
    ),
]
"""A window length as the API takes it."""

ReplayLimit = Annotated[int, msgspec.Meta(ge=1, le=limits.WHAT_IF_MAX_DECISIONS)]


class LeastPrivilegeRequest(_In):
    """``POST /v1/least-privilege``: what ``subject`` holds against what it used in ``since``."""

    subject: SubjectReference
    since: Since = "30d"


class HeldPermissionInfo(_Out):
    """A held permission (here: an unused one), its path and the relationships that carry it."""

    resource: ObjectReference
    permission: str
    conditional: bool
    path: list[ReachPathStep]
    carried_by: list[str]


class UsedPermissionInfo(_Out):
    """A (resource, permission) allowed in the window: how often and when last."""

    resource: str
    permission: str
    uses: int
    last_used: str


class LeastPrivilegeResponse(_Out):
    """The report; ``removable`` are relationships whose removal keeps every used permission."""

    subject: SubjectReference
    since: str
    window_start: str
    now: str
    read_at: ZedToken
    held: int
    held_raw: int
    used: int
    unused: list[HeldPermissionInfo]
    used_permissions: list[UsedPermissionInfo]
    removable: list[str]
    protected: int
    delegates: list[SubjectReference]
    truncated: bool
    message: str
    truncated_reason: str | None = None


class WhatIfRequest(_In):
    """``POST /v1/what-if``: replay the decisions of ``since`` under ``schema`` and/or ``relationships``.

    ``relationships`` is a changes text: one change per line, ``touch REL``, ``delete REL`` or a
    bare ``REL`` (a touch); ``//`` comments and blank lines are skipped. At least one of the two
    is required. ``limit`` bounds the decisions read (default and maximum
    ``WHAT_IF_MAX_DECISIONS``).
    """

    since: Since = "24h"
    schema: str | None = None
    relationships: str | None = None
    limit: ReplayLimit | None = None


class LoggedDecisionInfo(_Out):
    """A logged decision of the replay, as logged (``old`` is its logged result)."""

    decision_id: str
    decided_at: str
    subject: str
    resource: str
    permission: str
    old: str


class FlipInfo(LoggedDecisionInfo):
    """A decision whose result would change to ``new``; ``kind``: revoked, granted or changed."""

    new: str
    kind: str


class UnreplayableInfo(LoggedDecisionInfo):
    """A decision that could not be decided again; never counted as allowed.

    ``reason``: context_truncated, context_missing, not_in_schema, malformed or evaluation_error.
    """

    reason: str
    message: str


class WhatIfResponse(_Out):
    """The replay: counts, every flip and every unreplayable decision, and the subjects affected."""

    since: str
    window_start: str
    now: str
    read_at: ZedToken
    schema_changed: bool
    schema_version: int
    changes: int
    decisions: int
    skipped: int
    unique: int
    unchanged: int
    flipped: int
    revoked: int
    granted: int
    flips: list[FlipInfo]
    unreplayable: list[UnreplayableInfo]
    subjects_affected: list[str]
    limit: int
    truncated: bool
    message: str
