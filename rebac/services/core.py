"""The services of one open store: what the API's controllers and the CLI's commands call.

A composition root (:func:`rebac.api.app.create_app`, the CLI runtime) opens the store and builds
one :class:`Services` over it; everything above talks to these entries and nothing below them::

    services = Services(store, settings)
    current = await services.engines.current()
    revision = await services.checks.revision(current)
    decision = await services.checks.decide(current, None, "check", revision, (doc, "view", tom))

:meth:`Services.start` begins recording decisions (the decision log's background writer) and
:meth:`Services.aclose` drains it; the composition root owns the store and closes it after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rebac.config import Settings
from rebac.services.checks import Checks
from rebac.services.decisions import Decisions
from rebac.services.engines import Engines
from rebac.services.inventory import Inventory
from rebac.services.keys import Keys
from rebac.services.least_privilege import LeastPrivilege
from rebac.services.reach import Reach
from rebac.services.relationships import Relationships
from rebac.services.requests import AccessRequests
from rebac.services.schemas import Schemas
from rebac.services.what_if import WhatIf
from rebac.store.base import TupleStore
from rebac.store.revision import Revision

__all__ = ["Services"]


class Services:
    """Every operation over one open store.

    Args:
        store: The open store (the caller closes it).
        settings: The process settings.
        schema_refresh_seconds: How stale the cached current-schema pointer may get.
        clock: Wall clock deciding expiration in checks (injectable for tests).

    Attributes:
        engines: The engine of the current schema version.
        checks: Decisions (recorded), expand and lookups.
        relationships: Writes checked against the schema, reads, deletes, bulk moves, watch.
        schemas: Schema versions: writes that never orphan, history, diffs.
        decisions: The decision log and its recorder.
        inventory: Non-human identities and their reviews.
        reach: Blast radius and who-can-reach.
        keys: The store's scoped API keys (create, list, revoke).
        requests: Access requests and their approvals (AuthZEN ARAP).
        least_privilege: What a subject holds against what it used, and the grants it can lose.
        what_if: Logged decisions replayed under a proposed schema or relationship changes.
    """

    __slots__ = (
        "_store",
        "checks",
        "decisions",
        "engines",
        "inventory",
        "keys",
        "least_privilege",
        "reach",
        "relationships",
        "requests",
        "schemas",
        "settings",
        "what_if",
    )

    def __init__(
        self,
        store: TupleStore,
        settings: Settings,
        *,
        schema_refresh_seconds: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self.settings = settings
        self.engines = Engines(store, settings.engine, refresh_seconds=schema_refresh_seconds, clock=clock)
        self.decisions = Decisions(store, settings.decisions)
        self.checks = Checks(self.decisions, self.engines)
        self.relationships = Relationships(store, settings, self.engines)
        self.schemas = Schemas(store, self.engines)
        self.inventory = Inventory(store, self.checks)
        self.reach = Reach()
        self.keys = Keys(store.roles.keys)
        self.requests = AccessRequests(
            store.roles.requests, self.checks, settings.requests, clock=clock, decisions=self.decisions
        )
        self.least_privilege = LeastPrivilege(store, self.decisions, settings.engine, clock=clock)
        self.what_if = WhatIf(store, self.decisions, settings.engine, clock=clock)

    def start(self) -> None:
        """Start recording decisions (when the settings and the store allow it)."""
        self.decisions.start()

    async def aclose(self) -> None:
        """Write every accepted decision record and stop recording; finish webhook deliveries."""
        await self.requests.webhooks.drain()
        await self.decisions.aclose()

    def token_for(self, revision: Revision) -> str:
        """The opaque consistency token of ``revision``."""
        return self._store.token_for(revision)

    async def head(self) -> Revision:
        """The newest committed revision (reading it proves the store reachable).

        Raises:
            StoreError: the store cannot be read.
        """
        return await self._store.head_revision()
