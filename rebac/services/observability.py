"""In-process measurements for ``/metrics``: cheap on the request path, read at scrape time.

The request path only adds to plain integers and floats (one event-loop thread per process, so
no lock): a request's duration goes into a fixed-bucket :class:`Histogram` of its route template,
and every decision offered to the recorder adds one to its ``(source, result)`` counter.
Everything else a scrape reports (the decision log's queue, the index's lag, the pool, the cache)
is read when the scrape asks. :mod:`rebac.api.metrics` turns a :class:`Metrics` into the
Prometheus text format.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from rebac.store.base import DecisionResult

__all__ = ["DURATION_BUCKETS", "Histogram", "Metrics"]

DURATION_BUCKETS: Final = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
"""Upper bounds (seconds) of the request-duration buckets (``+Inf`` is implied)."""


class Histogram:
    """Observation counts per bucket (not cumulative; the exporter accumulates) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus reports them, ``+Inf`` last."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class Metrics:
    """The counters one process keeps (see the module docstring)."""

    __slots__ = ("decisions", "requests")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], Histogram] = {}
        """``(method, route template, status class)`` to its durations."""
        self.decisions: dict[tuple[str, str], int] = {}
        """``(source, result)`` to the number of decisions."""

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request of ``route`` (a template such as ``/v1/decisions/{decision_id}``)."""
        key = (method, route, f"{status // 100}xx")
        histogram = self.requests.get(key)
        if histogram is None:
            histogram = self.requests[key] = Histogram()
        histogram.observe(seconds)

    def count_decision(self, source: str, result: DecisionResult) -> None:
        """Count one decision (the recorder calls it for every decision it is offered)."""
        key = (source, result.value)
        self.decisions[key] = self.decisions.get(key, 0) + 1
