"""Per-app services: the store, the engine for the current schema version, readiness.

One :class:`Services` is built by :func:`rebac.api.app.create_app` and kept in ``app.state``; it is
no module-level state. The engine is rebuilt when the current schema changes and cached by schema
hash (a few recent versions are kept, so requests racing a schema write stay cheap). The current
schema pointer is re-read at most every ``schema_refresh_seconds``; a schema write through this
process refreshes it at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from rebac.api.auth import Authenticator
from rebac.config import Settings
from rebac.engine import CheckCache, Engine
from rebac.engine.model import reachability_for
from rebac.errors import SchemaVersionNotFoundError, StoreError, StoreUnavailableError
from rebac.schema import compile_schema
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import SchemaVersion, TupleStore

__all__ = ["Current", "Readiness", "Services"]

Readiness = Callable[[], Awaitable[bool]]
"""Returns True when the database is reachable and migrated to head."""

_KEPT_ENGINES: Final = 4


@dataclass(frozen=True, slots=True)
class Current:
    """The engine for the current schema version, and that version."""

    engine: Engine
    version: SchemaVersion


class Services:
    """What the controllers need, built once per app.

    Args:
        settings: The process settings.
        readiness: The migration/reachability probe for ``/readyz`` (``None``: store ping only).
        schema_refresh_seconds: How stale the cached "current schema" pointer may get.
    """

    def __init__(
        self, settings: Settings, *, readiness: Readiness | None = None, schema_refresh_seconds: float = 1.0
    ) -> None:
        self.settings = settings
        self._store: TupleStore | None = None
        self._readiness = readiness
        self._refresh = schema_refresh_seconds
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._current: SchemaVersion | None = None
        self._fetched_at = float("-inf")
        self._last: Current | None = None
        self.authenticator = Authenticator(settings.api.preshared_key)
        self.decisions: DecisionRecorder | None = None
        """The decision recorder while the app runs (``None``: decisions are not recorded)."""

    @property
    def store(self) -> TupleStore:
        """The open store.

        Raises:
            StoreUnavailableError: before startup or after shutdown.
        """
        if self._store is None:
            raise StoreUnavailableError("the store is not open")
        return self._store

    def attach(self, store: TupleStore | None) -> None:
        """Set (or clear, with ``None``) the store; clears the engines."""
        self._store = store
        self._engines.clear()
        self.invalidate()

    def set_readiness(self, readiness: Readiness) -> None:
        """Use ``readiness`` for ``/readyz`` (set by the composition root once the store is open)."""
        self._readiness = readiness

    def invalidate(self) -> None:
        """Forget the current schema pointer (after a schema write)."""
        self._current = None
        self._fetched_at = float("-inf")

    async def current_schema(self) -> SchemaVersion:
        """The current schema version (cached for ``schema_refresh_seconds``).

        Raises:
            SchemaVersionNotFoundError: no schema was written yet.
        """
        now = time.monotonic()
        if self._current is None or now - self._fetched_at > self._refresh:
            self._current = await self.store.current_schema()
            self._fetched_at = now
        if self._current is None:
            raise SchemaVersionNotFoundError("no schema has been written yet: POST /v1/schema/write first")
        return self._current

    async def current(self) -> Current:
        """The engine for the current schema version."""
        version = await self.current_schema()
        last = self._last
        if last is not None and last.version is version and self._engines.get(version.hash) is last.engine:
            return last  # the same version object as last time: nothing to look up or rebuild
        engine = self._engines.get(version.hash)
        if engine is None:
            schema = compile_schema(version.text, f"schema version {version.version}")
            engine = Engine.build(
                self.store,
                schema,
                schema_hash=version.hash,
                reachability=reachability_for(schema),
                settings=self.settings.engine,
                cache=CheckCache(self.settings.engine.cache_entries),
            )
            self._engines[version.hash] = engine
            while len(self._engines) > _KEPT_ENGINES:
                self._engines.popitem(last=False)
        else:
            self._engines.move_to_end(version.hash)
        self._last = Current(engine, version)
        return self._last

    async def ready(self) -> bool:
        """True when the database is reachable (and migrated, when a probe is configured)."""
        try:
            if self._readiness is not None:
                return await self._readiness()
            await self.store.head_revision()
        except StoreError:
            return False
        return True
