"""DTOs of ``/v1/decisions``: recorded decisions, pages and the recorder's counters."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["DecisionOut", "DecisionPage", "DecisionStatsOut"]


class DecisionOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """One recorded decision (the API and ``rebac decisions`` share this shape)."""

    decision_id: str
    decided_at: str
    source: str
    subject: str
    permission: str
    resource: str
    result: str
    reason: str
    latency_ms: float
    caller: str | None = None
    chain: list[dict[str, Any]] = msgspec.field(default_factory=list)
    revision: int | None = None
    schema_version: int | None = None
    schema_hash: str | None = None
    context: dict[str, Any] | None = None
    decision_point: str | None = None


class DecisionPage(msgspec.Struct, rename="camel", omit_defaults=True):
    """One page, newest first; ``nextCursor`` is absent on the last page."""

    decisions: list[DecisionOut]
    next_cursor: str | None = None


class DecisionStatsOut(msgspec.Struct, rename="camel"):
    """The recorder's counters (``recorded = written + queued + failed``)."""

    enabled: bool
    sample_rate: float
    recorded: int = 0
    written: int = 0
    queued: int = 0
    sampled_out: int = 0
    dropped: int = 0
    failed: int = 0
    batches: int = 0
