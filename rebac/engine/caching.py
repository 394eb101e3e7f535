"""A bounded LRU cache of check results, and the dispatcher link that uses it.

Safety rules (each one a known bug class of peer engines):

* the key is the complete request: revision, schema hash, canonical caveat context, resource
  type and ids, relation, and subject (type, id, relation);
* only complete answers are stored: errors propagate and are never stored, and an answer with a
  cycle-cut branch (or a provisional value, see :mod:`rebac.engine.cycles`) is never stored;
* a hit is served only when the request still has at least the depth the answer needed;
* an entry never outlives the earliest expiration among the relationships it used.

The cache is a plain object made by the composition root; nothing here is global.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rebac import limits
from rebac.engine.requests import CheckRequest
from rebac.engine.results import CheckResult, earliest

__all__ = ["CacheStats", "CachingDispatcher", "CheckCache"]


class _Next(Protocol):
    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]: ...


@dataclass(slots=True)
class CacheStats:
    """Counters (per cache object)."""

    hits: int = 0
    misses: int = 0
    stores: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    results: Mapping[str, CheckResult]
    depth_required: int
    expires_at: datetime | None


class CheckCache:
    """Bounded LRU mapping of request keys to complete check answers."""

    __slots__ = ("_entries", "_max_entries", "stats")

    def __init__(self, max_entries: int = limits.CHECK_CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._max_entries = max(1, max_entries)
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, request: CheckRequest) -> Mapping[str, CheckResult] | None:
        """A stored answer usable for ``request``, or ``None``."""
        key = request.key()
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if entry.expires_at is not None and entry.expires_at <= request.ctx.now:
            del self._entries[key]
            self.stats.misses += 1
            return None
        if request.depth_remaining < entry.depth_required:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry.results

    def put(self, request: CheckRequest, results: Mapping[str, CheckResult]) -> None:
        """Store ``results`` for ``request`` if they are complete and cycle-free."""
        if set(results) != set(request.resource_ids) or any(
            r.cycle_detected or r.provisional for r in results.values()
        ):
            self.stats.skipped += 1
            return
        depth = 0
        expires: datetime | None = None
        for result in results.values():
            depth = max(depth, result.depth_required)
            expires = earliest(expires, result.expires_at)
        if expires is not None and expires <= request.ctx.now:
            self.stats.skipped += 1
            return
        key = request.key()
        self._entries[key] = _Entry(dict(results), depth, expires)
        self._entries.move_to_end(key)
        self.stats.stores += 1
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()


class CachingDispatcher:
    """Serves check answers from a :class:`CheckCache`, filling it from the next link."""

    __slots__ = ("_cache", "_next")

    def __init__(self, next_link: _Next, cache: CheckCache) -> None:
        self._next = next_link
        self._cache = cache

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Answer from the cache when allowed, else from the next link (then store)."""
        request.ctx.check_deadline()
        hit = self._cache.get(request)
        if hit is not None:
            return hit
        results = await self._next.check(request)
        self._cache.put(request, results)
        return results
