"""The in-process engine: :class:`MemoryTupleStore`, the reference the Postgres engine is compared with."""

from __future__ import annotations

from rebac.store.memory.store import MemoryTupleStore

__all__ = ["MemoryTupleStore"]
