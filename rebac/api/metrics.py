"""``GET /metrics``: the process's measurements in the Prometheus text format (``rebac_`` names).

Names follow SpiceDB's and OpenFGA's conventions (``<namespace>_<what>_<unit>``, ``_seconds``
histograms, ``_total`` counters, base units):

=========================================== ======= ===============================================
``rebac_http_request_duration_seconds``     hist.   per ``method``, ``route`` (the template, never
                                                    the raw path; ``unmatched`` for no route) and
                                                    ``code`` class (``2xx`` ...)
``rebac_decisions_total``                   counter per ``source`` and ``result``
``rebac_gateway_decisions_total``           counter decisions with source ``mcp-gateway*``
``rebac_check_cache_hits_total`` / ``_misses_total`` and ``rebac_check_cache_hit_ratio``
``rebac_index_lag_revisions`` / ``rebac_index_lag_seconds`` / ``rebac_index_rows``
``rebac_db_pool_connections``               gauge   per ``pool`` and ``state`` (``in_use``, ``idle``,
                                                    ``waiting``)
``rebac_replica_reads_total``               counter per read ``replica`` and ``outcome``
                                                    (``served``; ``behind``: it had not replayed
                                                    the revision; ``failed``: error or unreachable)
``rebac_replica_primary_reads_total``       counter reads at a revision the primary served
                                                    because no replica could
``rebac_replica_up``                        gauge   per ``replica``: 1 up, 0 skipped
``rebac_decision_log_queue_depth``          gauge   records accepted, not yet written
``rebac_decision_log_records_total``        counter per ``outcome`` (``written``, ``dropped``,
                                                    ``failed``, ``sampled_out``)
``rebac_instance_info``                     gauge   1, labelled with the ``instance`` name
=========================================== ======= ===============================================

**Protection** (``REBAC_METRICS``): ``key`` (the default) needs an API key with the ``metrics``
(or ``admin``) scope, like any other endpoint; ``public`` serves it without a key, for a scrape
from a private network, which is what SpiceDB's and OpenFGA's separate unauthenticated metrics
ports amount to; ``off`` answers 404.

**Several workers** (``rebac serve --workers N``, N > 1). Each worker keeps its own counters, and
a scrape through the shared port reaches whichever worker accepts the connection. So that one
worker's counters are never read as another's (a counter that seems to go back is a reset to
``rate()``), every sample then carries a ``decision_point`` label: the worker's instance name, the
one its decision records carry. Each series is then one worker's, monotonic; a scrape shows only
the worker that answered it. With one worker no such label is added. The counters are not shared
through ``PROMETHEUS_MULTIPROC_DIR``: its files would cost the request path a write each (see
``docs/observability.md``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from rebac.api.state import AppState
from rebac.errors import ForbiddenError, NotFoundError, StoreError
from rebac.services.core import Services
from rebac.services.observability import Metrics

__all__ = ["Gather", "IndexLag", "MetricsController", "ReplicaCounts", "Scrape", "gatherer", "render"]

_GATEWAY: Final = "mcp-gateway"


class Scrape(Collector):
    """One scrape's view: the counters of :class:`Metrics` and the values read for this scrape."""

    def __init__(self, metrics: Metrics, values: dict[str, Any]) -> None:
        self._metrics = metrics
        self._values = values

    def collect(self) -> Iterator[Metric]:
        """Every family (see the module docstring)."""
        yield from self._requests()
        yield from self._decisions()
        yield from self._gauges()

    def _requests(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "rebac_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            labels=["method", "route", "code"],
        )
        for (method, route, code), histogram in sorted(self._metrics.requests.items()):
            family.add_metric([method, route, code], histogram.cumulative(), histogram.total)
        yield family

    def _decisions(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "rebac_decisions", "Decisions made, by endpoint and result.", labels=["source", "result"]
        )
        gateway = CounterMetricFamily(
            "rebac_gateway_decisions", "Decisions made for the MCP gateway.", labels=["result"]
        )
        for (source, result), count in sorted(self._metrics.decisions.items()):
            family.add_metric([source, result], count)
            if source.startswith(_GATEWAY):
                gateway.add_metric([result], count)
        yield family
        yield gateway

    def _gauges(self) -> Iterator[Metric]:
        values = self._values
        info = GaugeMetricFamily("rebac_instance_info", "This decision point.", labels=["instance"])
        info.add_metric([str(values.get("instance", ""))], 1)
        yield info
        hits, misses = values.get("cache", (0, 0))
        yield CounterMetricFamily("rebac_check_cache_hits", "Check-cache hits.", value=hits)
        yield CounterMetricFamily("rebac_check_cache_misses", "Check-cache misses.", value=misses)
        ratio = hits / (hits + misses) if hits + misses else 0.0
        yield GaugeMetricFamily("rebac_check_cache_hit_ratio", "Hits over lookups since start.", value=ratio)
        lag = values.get("index_lag")
        if lag is not None:
            revisions, seconds, rows = lag
            yield GaugeMetricFamily(
                "rebac_index_lag_revisions", "Revisions committed and not yet in the index.", value=revisions
            )
            yield GaugeMetricFamily(
                "rebac_index_lag_seconds", "Age of the oldest revision not yet in the index.", value=seconds
            )
            yield GaugeMetricFamily("rebac_index_rows", "Row versions the index holds.", value=rows)
        pools = GaugeMetricFamily(
            "rebac_db_pool_connections", "Database connections by pool and state.", labels=["pool", "state"]
        )
        for (pool, state), count in sorted(values.get("pools", {}).items()):
            pools.add_metric([pool, state], count)
        yield pools
        yield from _replicas(values.get("replicas"))
        stats = values.get("decision_log")
        if stats is not None:
            yield GaugeMetricFamily(
                "rebac_decision_log_queue_depth",
                "Decision records accepted, not yet written.",
                value=stats.queued,
            )
            records = CounterMetricFamily(
                "rebac_decision_log_records", "Decision records by what became of them.", labels=["outcome"]
            )
            for outcome in ("written", "dropped", "failed", "sampled_out"):
                records.add_metric([outcome], getattr(stats, outcome))
            yield records


def _replicas(found: ReplicaCounts | None) -> Iterator[Metric]:
    if found is None:
        return
    reads, up = found
    family = CounterMetricFamily(
        "rebac_replica_reads", "Reads sent to read replicas, by outcome.", labels=["replica", "outcome"]
    )
    primary = 0
    for (replica, outcome), count in sorted(reads.items()):
        if replica == "primary":
            primary = count
        else:
            family.add_metric([replica, outcome], count)
    yield family
    yield CounterMetricFamily(
        "rebac_replica_primary_reads", "Reads at a revision no replica could serve.", value=primary
    )
    gauge = GaugeMetricFamily("rebac_replica_up", "1 when a read replica is in use.", labels=["replica"])
    for replica, is_up in sorted(up.items()):
        gauge.add_metric([replica], 1 if is_up else 0)
    yield gauge


ReplicaCounts = tuple[dict[tuple[str, str], int], dict[str, bool]]
"""Read-replica reads by ``(replica, outcome)`` (``("primary", "fallback")`` too), and which are up."""

IndexLag = Callable[[], Awaitable["tuple[int, float, int] | None"]]
"""``(revisions behind, seconds behind, rows)`` of the store's index (``None``: no index)."""


def gatherer(
    services: Services,
    *,
    index_lag: IndexLag | None = None,
    pool_stats: Callable[[], dict[tuple[str, str], int]] | None = None,
    replica_stats: Callable[[], ReplicaCounts] | None = None,
) -> Gather:
    """The per-scrape reader of ``services`` (and of the store's index and pools, when it has them)."""
    decision_point = services.settings.decisions.decision_point()
    per_worker = services.settings.api.workers > 1

    async def gather() -> dict[str, Any]:
        decisions = services.decisions
        recorder = decisions.recorder
        values: dict[str, Any] = {
            "instance": recorder.instance_name if recorder is not None else decision_point,
            "per_worker": per_worker,
            "cache": services.engines.cache_counts(),
            "decision_log": decisions.stats(),
        }
        if pool_stats is not None:
            values["pools"] = pool_stats()
        if replica_stats is not None:
            values["replicas"] = replica_stats()
        if index_lag is not None:
            try:
                values["index_lag"] = await index_lag()
            except StoreError:
                values["index_lag"] = None  # the database is away: no lag to report, the rest stands
        return values

    return gather


def render(metrics: Metrics, values: dict[str, Any]) -> bytes:
    """The Prometheus text of ``metrics`` and this scrape's ``values``."""
    registry = CollectorRegistry(auto_describe=False)
    scrape: Collector = Scrape(metrics, values)
    if values.get("per_worker"):
        scrape = _Labelled(scrape, str(values.get("instance", "")))
    registry.register(scrape)
    return generate_latest(registry)


class _Labelled(Collector):
    """``inner``'s samples, each labelled ``decision_point`` (one worker of several)."""

    def __init__(self, inner: Collector, name: str) -> None:
        self._inner = inner
        self._name = name

    def collect(self) -> Iterator[Metric]:
        """Every family of ``inner``, relabelled."""
        for family in self._inner.collect():
            family.samples = [
                sample._replace(labels={**sample.labels, "decision_point": self._name})
                for sample in family.samples
            ]
            yield family


Gather = Callable[[], Awaitable[dict[str, Any]]]
"""Reads this scrape's values (index lag, pools, cache, decision-log counters, instance)."""


class MetricsController(Controller):
    """``GET /metrics`` (see the module docstring for who may read it)."""

    path = "/metrics"
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute
    include_in_schema = False

    @get("/", operation_id="Metrics", cache=False, media_type=CONTENT_TYPE_LATEST)
    async def metrics(
        self, request: Request[Any, Any, Any], app_state: NamedDependency[AppState]
    ) -> Response[bytes]:
        """The Prometheus exposition of this process."""
        mode = app_state.settings.api.metrics
        if mode == "off":
            raise NotFoundError("metrics are off (REBAC_METRICS=off)")
        if mode != "public":
            principal = await app_state.authenticator.authenticate(request.headers.get("authorization"))
            request.state.principal = principal  # the access log names the key
            if not principal.allows("metrics"):
                raise ForbiddenError("this endpoint needs an API key with the 'metrics' scope")
        observed = app_state.observed
        if observed is None:
            raise NotFoundError("metrics are not collected by this app")
        metrics, gather = observed
        return Response(render(metrics, await gather()), media_type=CONTENT_TYPE_LATEST)
