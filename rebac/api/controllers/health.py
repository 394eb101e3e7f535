"""``/healthz`` (the process is alive) and ``/readyz`` (database reachable, migrations at head).

``/readyz`` also reports the in-memory relationship index (``index``: ``state`` loading, ready or
degraded, the ``reason``, ``since`` when, the revisions it holds). While the index has not loaded
its first snapshot the answer is 503. A *degraded* index (its follower cannot follow the change
log and keeps retrying) answers **200** with ``"status": "degraded"``: every read the index has
not applied goes to the database, so answers stay right, only slower, and taking every replica out
of rotation for that would turn a slow index into an outage. A database that cannot be reached is
503 as before.

With read replicas, ``replicas`` lists each one (``replica`` host:port/database, ``state``: unknown,
up, failed or foreign, ``reason``, ``since``, ``head``: the newest revision it showed). A replica
that is not up makes the answer ``degraded`` (200): its reads go to the primary.
Both answers of ``/readyz`` name the process that gave them: ``pid`` and ``instance`` (the
decision point its decision records carry). Behind ``rebac serve --workers N`` that tells the
workers apart, and a probe that lands on a worker still loading its index says which one.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from rebac.api.problems import Problem, ProblemType, problem_response, problem_responses
from rebac.api.state import AppState

__all__ = ["HealthController"]

_NOT_READY = ProblemType(503, "urn:rebac:problem:not-ready", "Not ready")


class HealthController(Controller):
    """Probes; no API key needed."""

    path = "/"
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/healthz", operation_id="Healthz", cache=False)
    async def healthz(self) -> dict[str, str]:
        """Liveness: no I/O."""
        return {"status": "ok"}

    @get("/readyz", operation_id="Readyz", cache=False, responses=problem_responses())
    async def readyz(self, app_state: NamedDependency[AppState]) -> Any:
        """Readiness: 200 (``ready`` or ``degraded``), else a 503 problem; both carry the index's state.

        200 when the database is reachable and migrated to head and the index (if any) has loaded.
        Either way the body names this process (``pid``, ``instance``).
        """
        ready = await app_state.ready()
        index = app_state.index()
        instance = app_state.settings.decisions.decision_point()
        extra: dict[str, object] = {"pid": os.getpid(), "instance": instance}
        if index is not None:
            extra["index"] = index
        replicas = app_state.replicas()
        if replicas is not None:
            extra["replicas"] = replicas
        if ready:
            degraded = index is not None and index.get("state") == "degraded"
            degraded = degraded or any(r.get("state") in {"failed", "foreign"} for r in replicas or ())
            return {"status": "degraded" if degraded else "ready", **extra}
        detail = "the database is unreachable or not migrated to the newest revision"
        if index is not None and index.get("state") == "loading":
            detail = "the relationship index is loading, or the database is unreachable or not migrated"
        return problem_response(Problem(_NOT_READY, detail, extra))
