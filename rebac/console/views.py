"""View models: what a template shows of a decision record, and the live table's keys.

Pure functions over the services' values; the templates only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from rebac.services.types import DecisionRecord

__all__ = [
    "DecisionView",
    "HopView",
    "decision_view",
    "filters_query",
    "following_key",
    "newer_than",
]

_KEY_SEPARATOR: Final = "|"
_NO: Final = "PERMISSIONSHIP_NO_PERMISSION"
_SHORT: Final = {
    "PERMISSIONSHIP_NO_PERMISSION": "no_permission",
    "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "conditional_permission",
    "PERMISSIONSHIP_HAS_PERMISSION": "has_permission",
}


@dataclass(frozen=True, slots=True)
class HopView:
    """One identity of a delegation chain, as drawn."""

    subject: str
    depth: int
    permissionship: str
    reason: str
    missing: tuple[str, ...]
    failing: bool


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One decision record, as the table and the detail page show it."""

    decision_id: str
    decided_at: str
    when: str
    source: str
    caller: str
    subject: str
    permission: str
    resource: str
    result: str
    reason: str
    latency_ms: str
    revision: int | None
    schema_version: int | None
    schema_hash: str | None
    context: dict[str, Any] | None
    hops: tuple[HopView, ...]
    failing_depth: int | None


def _hops(chain: tuple[dict[str, Any], ...]) -> tuple[tuple[HopView, ...], int | None]:
    """The chain's hops, nearest first, and the depth of the first failing one (``None``: none).

    A hop fails as the engine says (``CheckResult.failed_hop``): the first with no permission.
    """
    failing: int | None = None
    views: list[HopView] = []
    for hop in chain:
        permissionship = str(hop.get("permissionship", ""))
        reason = str(hop.get("reason", ""))
        bad = permissionship == _NO
        depth = int(hop.get("depth", 0))
        first = bad and failing is None
        if first:
            failing = depth
        views.append(
            HopView(
                subject=str(hop.get("subject", "?")),
                depth=depth,
                permissionship=_SHORT.get(permissionship, permissionship),
                reason=reason,
                missing=tuple(str(m) for m in hop.get("missing", ())),
                failing=first,
            )
        )
    return tuple(views), failing


def decision_view(record: DecisionRecord, *, detail: bool = False) -> DecisionView:
    """The view of ``record`` (with its chain and context when ``detail``)."""
    hops, failing = _hops(record.chain) if detail else ((), None)
    at = record.decided_at.astimezone(UTC)
    return DecisionView(
        decision_id=record.decision_id,
        decided_at=at.isoformat(),
        when=at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        source=record.source,
        caller=record.caller or "",
        subject=record.subject,
        permission=record.permission,
        resource=record.resource,
        result=record.result.value,
        reason=record.reason,
        latency_ms=f"{record.latency_ms:.2f}",
        revision=record.revision,
        schema_version=record.schema_version,
        schema_hash=record.schema_hash,
        context=record.context if detail else None,
        hops=hops,
        failing_depth=failing,
    )


def filters_query(filters: dict[str, str]) -> str:
    """The filters as a query string (no leading ``?``), to carry into links and polling."""
    return urlencode(sorted(filters.items()))


def following_key(newest: DecisionRecord | None, fallback: datetime | None) -> str:
    """The live table's marker: the newest shown record's key, else ``fallback`` (a time only)."""
    if newest is not None:
        return f"{newest.decided_at.astimezone(UTC).isoformat()}{_KEY_SEPARATOR}{newest.decision_id}"
    if fallback is not None:
        return fallback.astimezone(UTC).isoformat()
    return ""


def newer_than(marker: str) -> tuple[tuple[datetime, str] | None, datetime | None]:
    """Parse a :func:`following_key` marker: the key to stay above, and the time to read from.

    A malformed marker reads from no time and keeps everything (the page is then a plain first
    page, never an error for a stale browser tab).
    """
    when_text, _, decision_id = marker.partition(_KEY_SEPARATOR)
    try:
        when = datetime.fromisoformat(when_text)
    except ValueError:
        return None, None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return ((when, decision_id) if decision_id else None), when
