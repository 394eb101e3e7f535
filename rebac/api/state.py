"""Per-app state: the settings, the authenticator, and the services once the store is open.

One :class:`AppState` is built by :func:`rebac.api.app.create_app` and kept in ``app.state``; it
is no module-level state. The lifespan attaches the :class:`~rebac.services.core.Services` of the
open store at startup and detaches them at shutdown; a request in between reaches them through
:attr:`AppState.services`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rebac.api.auth import Authenticator
from rebac.config import Settings
from rebac.errors import StoreError, StoreUnavailableError
from rebac.services.core import Services
from rebac.services.observability import Metrics

__all__ = ["AppState", "IndexReport", "Readiness", "ReplicaReport"]

Readiness = Callable[[], Awaitable[bool]]
"""Returns True when the store can serve (reachable, migrated, its index loaded)."""

IndexReport = Callable[[], "dict[str, object] | None"]
"""The in-memory index's state (``state``: loading, ready or degraded, ``reason``, ``since``, ...)."""

ReplicaReport = Callable[[], "list[dict[str, object]]"]
"""Each read replica's state (``replica``, ``state``: unknown, up, failed or foreign, ...)."""


class AppState:
    """What the app's requests share.

    Args:
        settings: The process settings.
        authenticator: Checks API keys.
        readiness: The probe for ``/readyz`` (``None``: the store answering a read).
    """

    __slots__ = (
        "_index_report",
        "_readiness",
        "_replica_report",
        "_services",
        "authenticator",
        "observed",
        "settings",
    )

    def __init__(
        self, settings: Settings, authenticator: Authenticator, *, readiness: Readiness | None = None
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self._readiness = readiness
        self._index_report: IndexReport | None = None
        self._replica_report: ReplicaReport | None = None
        self._services: Services | None = None
        self.observed: tuple[Metrics, Callable[[], Awaitable[dict[str, Any]]]] | None = None
        """``/metrics``' counters and its per-scrape reader (set by the lifespan)."""

    @property
    def services(self) -> Services:
        """The services of the open store.

        Raises:
            StoreUnavailableError: before startup or after shutdown.
        """
        if self._services is None:
            raise StoreUnavailableError("the store is not open")
        return self._services

    def attach(self, services: Services | None) -> None:
        """Set (or clear, with ``None``) the services of the open store."""
        self._services = services

    def set_readiness(self, readiness: Readiness) -> None:
        """Use ``readiness`` for ``/readyz`` (set by the composition root once the store is open)."""
        self._readiness = readiness

    def set_index_report(self, report: IndexReport | None) -> None:
        """Report ``report()`` (the store's in-memory index) on ``/readyz``."""
        self._index_report = report

    def index(self) -> dict[str, object] | None:
        """The in-memory index's state, or ``None`` when the store keeps no index."""
        return None if self._index_report is None else self._index_report()

    def set_replica_report(self, report: ReplicaReport | None) -> None:
        """Report ``report()`` (the store's read replicas) on ``/readyz``."""
        self._replica_report = report

    def replicas(self) -> list[dict[str, object]] | None:
        """Each read replica's state, or ``None`` when the store reads from no replica."""
        return None if self._replica_report is None else self._replica_report()

    async def ready(self) -> bool:
        """True when the store can serve (the readiness probe, else a head-revision read)."""
        try:
            if self._readiness is not None:
                return await self._readiness()
            await self.services.head()
        except StoreError:
            return False
        return True
