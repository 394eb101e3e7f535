"""The decision log of the memory store: the Postgres engine's twin, days as partitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from rebac.errors import StoreError
from rebac.store.base import DecisionFilter, DecisionKey, DecisionRecord

__all__ = ["MemoryDecisionLog"]


def _day(record: DecisionRecord) -> date:
    return record.decided_at.astimezone(UTC).date()


class MemoryDecisionLog:
    """Records kept per UTC day, as the Postgres engine keeps them per daily partition."""

    __slots__ = ("_days", "_ids")

    def __init__(self) -> None:
        self._days: dict[date, list[DecisionRecord]] = {}
        self._ids: set[DecisionKey] = set()

    async def append(self, batch: Sequence[DecisionRecord]) -> None:
        """Store ``batch`` atomically: a repeated ``(decided_at, decision_id)`` stores nothing."""
        ids = [record.key for record in batch]
        if len(set(ids)) != len(ids) or self._ids.intersection(ids):
            raise StoreError("a decision id is already recorded")
        for record in batch:
            self._days.setdefault(_day(record), []).append(record)
        self._ids.update(ids)

    async def query(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        """Records matching ``flt``, newest first."""
        found = [
            record
            for records in self._days.values()
            for record in records
            if flt.matches(record) and (after is None or record.key < after)
        ]
        found.sort(key=lambda record: record.key, reverse=True)
        return found[:limit]

    async def drop_before(self, before: datetime) -> int:
        """Drop every day ending at or before ``before``."""
        doomed = [
            day
            for day in self._days
            if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) <= before
        ]
        for day in doomed:
            self._ids.difference_update(record.key for record in self._days.pop(day))
        return len(doomed)
