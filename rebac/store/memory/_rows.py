"""A row of the memory store's relationship table: soft-deleted, so readable at any revision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rebac.refs import Relationship
from rebac.store._common import LIVE

__all__ = ["Key", "Row"]

Key = tuple[str, str, str, str, str, str]
"""``Relationship.key()``: the six columns that identify a relationship."""


@dataclass(slots=True)
class Row:
    """``rel`` as live from revision ``created`` until (not including) revision ``deleted``."""

    rel: Relationship
    created: int
    deleted: int = LIVE

    def visible(self, revision: int, now: datetime) -> bool:
        """True when the row is live at ``revision`` and not expired at ``now``."""
        return self.created <= revision < self.deleted and not self.rel.is_expired(now)
