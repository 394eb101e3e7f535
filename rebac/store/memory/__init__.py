"""The in-process engine: :class:`MemoryTupleStore` and its API key table, :class:`MemoryKeyStore`.

The memory engine has the Postgres engine's semantics and is the reference it is compared with.
"""

from __future__ import annotations

from rebac.store.memory._keys import MemoryKeyStore
from rebac.store.memory.store import MemoryTupleStore

__all__ = ["MemoryKeyStore", "MemoryTupleStore"]
