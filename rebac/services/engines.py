"""The engine for a schema: the one place a stored schema version becomes an :class:`Engine`.

:func:`compile_version` compiles a stored version, :func:`build_engine` builds the engine for a
compiled schema (caveats compiled once, the type graph as pruning oracle, the check cache when the
settings enable it), and :class:`Engines` keeps the engine of the *current* version for a process:
rebuilt when the current schema changes, cached by schema hash (a few recent versions are kept, so
requests racing a schema write stay cheap). The current-schema pointer is re-read at most every
``refresh_seconds``; :meth:`Engines.invalidate` makes the next request re-read it (a schema write
through this process does). :meth:`Engines.pinned` gives the engine of any stored version, for a
check that pins one (DESIGN §2): versions are immutable, so a few are kept by number.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from rebac.config import EngineSettings
from rebac.engine import CheckCache, Engine
from rebac.engine.model import reachability_for
from rebac.errors import SchemaVersionNotFoundError
from rebac.schema import compile_schema, ir
from rebac.store.base import SchemaVersion, TupleReader, TupleStore

__all__ = ["Current", "Engines", "build_engine", "compile_version"]

_KEPT_ENGINES: Final = 4
_KEPT_PINNED_VERSIONS: Final = 16


def compile_version(version: SchemaVersion) -> ir.Schema:
    """The compiled form of a stored schema version.

    Raises:
        SchemaError: the stored text does not compile (the language changed under it).
    """
    return compile_schema(version.text, f"schema version {version.version}")


def build_engine(
    reader: TupleReader,
    schema: ir.Schema,
    *,
    settings: EngineSettings,
    schema_hash: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Engine:
    """The engine evaluating ``schema`` over ``reader`` (with a check cache when enabled)."""
    return Engine.build(
        reader,
        schema,
        schema_hash=schema_hash,
        reachability=reachability_for(schema),
        settings=settings,
        cache=CheckCache(settings.cache_entries) if settings.cache_enabled else None,
        clock=clock,
    )


@dataclass(frozen=True, slots=True)
class Current:
    """The engine for the current schema version, and that version."""

    engine: Engine
    version: SchemaVersion


class Engines:
    """The engine of the store's current schema version (see the module docstring).

    Args:
        store: The open store.
        settings: Depth, deadline and cache settings of every engine built.
        refresh_seconds: How stale the cached current-schema pointer may get.
        clock: Wall clock deciding expiration (injectable for tests).
    """

    __slots__ = (
        "_clock",
        "_current",
        "_engines",
        "_fetched_at",
        "_last",
        "_pinned",
        "_refresh",
        "_settings",
        "_store",
    )

    def __init__(
        self,
        store: TupleStore,
        settings: EngineSettings,
        *,
        refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._refresh = refresh_seconds
        self._clock = clock
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._current: SchemaVersion | None = None
        self._fetched_at = float("-inf")
        self._last: Current | None = None
        self._pinned: OrderedDict[int, SchemaVersion] = OrderedDict()

    def cache_counts(self) -> tuple[int, int]:
        """``(hits, misses)`` of the check caches of every engine held (for ``/metrics``)."""
        hits = misses = 0
        for engine in self._engines.values():
            cache = getattr(engine, "_cache", None)  # the engine's own; read-only here
            stats = cache.stats if isinstance(cache, CheckCache) else None
            if stats is not None:
                hits += stats.hits
                misses += stats.misses
        return hits, misses

    def invalidate(self) -> None:
        """Forget the current schema pointer (after a schema write)."""
        self._current = None
        self._fetched_at = float("-inf")

    async def current_version(self) -> SchemaVersion:
        """The current schema version (re-read at most every ``refresh_seconds``).

        Raises:
            SchemaVersionNotFoundError: no schema was written yet.
        """
        now = time.monotonic()
        if self._current is None or now - self._fetched_at > self._refresh:
            self._current = await self._store.current_schema()
            self._fetched_at = now
        if self._current is None:
            raise SchemaVersionNotFoundError("no schema has been written yet: write a schema first")
        return self._current

    async def current(self) -> Current:
        """The engine for the current schema version."""
        version = await self.current_version()
        last = self._last
        if last is not None and last.version is version and self._engines.get(version.hash) is last.engine:
            return last  # the same version object as last time: nothing to look up or rebuild
        self._last = Current(self.for_version(version), version)
        return self._last

    async def pinned(self, number: int) -> Current:
        """The engine of stored schema version ``number`` (a pinned check), current or not.

        Raises:
            SchemaVersionNotFoundError: there is no such version.
            SchemaError: its stored text does not compile.
        """
        version = self._pinned.get(number)
        if version is None:
            version = await self._store.schema_version(number)
            self._pinned[number] = version
            while len(self._pinned) > _KEPT_PINNED_VERSIONS:
                self._pinned.popitem(last=False)
        else:
            self._pinned.move_to_end(number)
        return Current(self.for_version(version), version)

    def for_version(self, version: SchemaVersion) -> Engine:
        """The engine for ``version`` (built once per schema hash, a few kept).

        Raises:
            SchemaError: the stored text does not compile.
        """
        engine = self._engines.get(version.hash)
        if engine is not None:
            self._engines.move_to_end(version.hash)
            return engine
        engine = build_engine(
            self._store,
            compile_version(version),
            settings=self._settings,
            schema_hash=version.hash,
            clock=self._clock,
        )
        self._engines[version.hash] = engine
        while len(self._engines) > _KEPT_ENGINES:
            self._engines.popitem(last=False)
        return engine
