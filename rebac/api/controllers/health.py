"""``/healthz`` (the process is alive) and ``/readyz`` (database reachable, migrations at head)."""

from __future__ import annotations

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
        """Readiness: 200 when the database is reachable and migrated to head, else a 503 problem."""
        if await app_state.ready():
            return {"status": "ready"}
        return problem_response(
            Problem(_NOT_READY, "the database is unreachable or not migrated to the newest revision", {})
        )
