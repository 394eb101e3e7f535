"""Least privilege and what-if replay: request builders, wire shapes and their friendly values.

``POST /v1/least-privilege`` and ``POST /v1/what-if`` (scope ``admin``). Both answer at one
snapshot (``read_at``) and may take a while on a large log, so they use the bulk timeouts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from rebac.client._admin_models import ReachStep
from rebac.client._call import Call, json_decoder
from rebac.client._config import DEFAULT_BULK_TIMEOUT
from rebac.client._encode import SubjectLike, subject_json
from rebac.client._wire import Obj, Subj, Token, W, obj_of, subj_of
from rebac.refs import ObjectRef, SubjectRef

__all__ = [
    "Flip",
    "LeastPrivilegeReport",
    "Unreplayable",
    "UnusedPermission",
    "UsedPermission",
    "WhatIfReport",
    "least_privilege",
    "what_if",
]


class UnusedPermission(msgspec.Struct, frozen=True, kw_only=True):
    """A permission the subject holds but did not use: one path to it and the tuples carrying it."""

    resource: ObjectRef
    permission: str
    conditional: bool
    path: tuple[ReachStep, ...]
    carried_by: tuple[str, ...]


class UsedPermission(msgspec.Struct, frozen=True, kw_only=True):
    """A (resource, permission) the subject was allowed in the window."""

    resource: str
    permission: str
    uses: int
    last_used: datetime


class LeastPrivilegeReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a subject holds against what it used; ``removable`` grants were proven safe to remove.

    ``message`` reads ``agent:planner holds 41 permissions, used 3 in the last 30 days``.
    """

    subject: SubjectRef
    since: str
    window_start: datetime
    now: datetime
    read_at: str
    held: int
    held_raw: int
    used: int
    unused: tuple[UnusedPermission, ...]
    used_permissions: tuple[UsedPermission, ...]
    removable: tuple[str, ...]
    protected: int
    delegates: tuple[SubjectRef, ...]
    truncated: bool
    message: str
    truncated_reason: str | None = None


class LoggedDecision(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A logged decision of a what-if replay, as logged (``old``: its logged result)."""

    decision_id: str
    decided_at: datetime
    subject: str
    resource: str
    permission: str
    old: str


class Flip(LoggedDecision, frozen=True, kw_only=True, rename="camel"):
    """A logged decision whose result would change to ``new`` (``kind``: revoked, granted or changed)."""

    new: str
    kind: str


class Unreplayable(LoggedDecision, frozen=True, kw_only=True, rename="camel"):
    """A logged decision that could not be decided again, and why (never counted as allowed)."""

    reason: str
    message: str


class WhatIfReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The replay of a window under a proposed schema and/or relationship changes.

    ``message`` reads ``2 of 40 decisions would flip (2 revoked, 0 granted), 0 could not be replayed``.
    """

    since: str
    window_start: datetime
    now: datetime
    read_at: str
    schema_changed: bool
    schema_version: int
    changes: int
    decisions: int
    unique: int
    skipped: int = 0
    unchanged: int
    flipped: int
    revoked: int
    granted: int
    flips: tuple[Flip, ...]
    unreplayable: tuple[Unreplayable, ...]
    subjects_affected: tuple[str, ...]
    limit: int
    truncated: bool
    message: str


class _Unused(W):
    resource: Obj
    permission: str
    conditional: bool
    path: list[ReachStep]
    carried_by: list[str]


class _Used(W):
    resource: str
    permission: str
    uses: int
    last_used: datetime


class _LeastPrivilege(W):
    subject: Subj
    since: str
    window_start: datetime
    now: datetime
    read_at: Token
    held: int
    held_raw: int
    used: int
    unused: list[_Unused]
    used_permissions: list[_Used]
    removable: list[str]
    protected: int
    delegates: list[Subj]
    truncated: bool
    message: str
    truncated_reason: str | None = None


def _least_privilege_of(wire: _LeastPrivilege) -> LeastPrivilegeReport:
    return LeastPrivilegeReport(
        subject=subj_of(wire.subject),
        since=wire.since,
        window_start=wire.window_start,
        now=wire.now,
        read_at=wire.read_at.token,
        held=wire.held,
        held_raw=wire.held_raw,
        used=wire.used,
        unused=tuple(
            UnusedPermission(
                resource=obj_of(u.resource),
                permission=u.permission,
                conditional=u.conditional,
                path=tuple(u.path),
                carried_by=tuple(u.carried_by),
            )
            for u in wire.unused
        ),
        used_permissions=tuple(
            UsedPermission(resource=u.resource, permission=u.permission, uses=u.uses, last_used=u.last_used)
            for u in wire.used_permissions
        ),
        removable=tuple(wire.removable),
        protected=wire.protected,
        delegates=tuple(subj_of(d) for d in wire.delegates),
        truncated=wire.truncated,
        message=wire.message,
        truncated_reason=wire.truncated_reason,
    )


class _WhatIf(WhatIfReport, frozen=True, kw_only=True):
    read_at: Token  # type: ignore[assignment]  # the wire's {"token": ...}, flattened below


def _what_if_of(wire: _WhatIf) -> WhatIfReport:
    fields = msgspec.structs.asdict(wire)
    fields["read_at"] = wire.read_at.token
    return WhatIfReport(**fields)


_LEAST_PRIVILEGE: Final = json_decoder(_LeastPrivilege, _least_privilege_of)
_WHAT_IF: Final = json_decoder(_WhatIf, _what_if_of)


def since_text(since: str | timedelta) -> str:
    """A window length as the API takes it (``30d``; a ``timedelta`` in whole seconds)."""
    if isinstance(since, timedelta):
        seconds = int(since.total_seconds())
        if seconds <= 0 or seconds != since.total_seconds():
            raise ValueError("since must be a positive whole number of seconds")
        return f"{seconds}s"
    return since


def least_privilege(subject: SubjectLike, *, since: str | timedelta = "30d") -> Call[LeastPrivilegeReport]:
    """``POST /v1/least-privilege``."""
    body = {"subject": subject_json(subject), "since": since_text(since)}
    return Call(
        "POST",
        "/v1/least-privilege",
        _LEAST_PRIVILEGE,
        body,
        token=lambda r: r.read_at,
        timeout=DEFAULT_BULK_TIMEOUT,
    )


def what_if(
    *,
    schema: str | None = None,
    relationships: str | None = None,
    since: str | timedelta = "24h",
    limit: int | None = None,
) -> Call[WhatIfReport]:
    """``POST /v1/what-if``: at least one of ``schema`` (text) and ``relationships`` (changes text)."""
    if schema is None and relationships is None:
        raise ValueError("propose a schema, relationship changes, or both")
    body: dict[str, Any] = {"since": since_text(since)}
    named = {"schema": schema, "relationships": relationships, "limit": limit}
    body.update({key: value for key, value in named.items() if value is not None})
    return Call(
        "POST", "/v1/what-if", _WHAT_IF, body, token=lambda r: r.read_at, timeout=DEFAULT_BULK_TIMEOUT
    )
