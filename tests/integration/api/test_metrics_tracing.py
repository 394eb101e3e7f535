"""``/metrics`` (Prometheus text, protection modes), OpenTelemetry decision spans, decision points.

Real app over the real PostgreSQL store (indexed), real prometheus_client parser, real
OpenTelemetry SDK with its in-memory exporter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from api_helpers import AUTH, SCHEMA, Client, KeyTable, check_body, settings, touch
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from rebac.api.app import create_app
from rebac.config import DecisionLogSettings, Settings
from rebac.services.core import Services
from rebac.services.tracing import Tracing, open_tracing
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

INSTANCE = "pdp-test-1"


def _settings(**api: Any) -> Settings:
    base = settings(**api)
    return replace(base, decisions=DecisionLogSettings(instance_name=INSTANCE, flush_seconds=0.01))


async def _app(
    store: TupleStore, keys: KeyTable, exporter: InMemorySpanExporter | None = None, **api: Any
) -> Any:
    async def seed(services: Services) -> None:
        if exporter is not None:
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            services.decisions.tracing = Tracing(provider.get_tracer("test"), provider.shutdown)

    return create_app(
        _settings(**api), store=store, keys=keys, schema_refresh_seconds=0, key_cache_seconds=0, seed=seed
    )


async def _seed(client: Client) -> None:
    assert (await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)).is_success
    updates = [touch("document", "d1", "viewer", "user", "tom")]
    assert (await client.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)).is_success


@pytest.fixture
async def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def client(
    pg_store: TupleStore, keys: KeyTable, exporter: InMemorySpanExporter
) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(await _app(pg_store, keys, exporter)) as test_client:
        await _seed(test_client)
        yield test_client


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _sample(families: dict[str, Any], name: str, sample: str, **labels: str) -> float:
    for s in families[name].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    pytest.fail(f"no sample {sample} {labels} in {name}")


async def _flush(client: Client) -> None:
    for _ in range(200):  # bounded wait for the writer thread, not a timing assertion
        if (await client.get("/v1/decisions/stats", headers=AUTH)).json()["queued"] == 0:
            return
        await asyncio.sleep(0.02)
    pytest.fail("the decision recorder did not flush")


async def test_metrics_report_requests_by_route_decisions_and_the_log(client: Client) -> None:
    allowed = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH)
    denied = await client.post("/v1/permissions/check", json=check_body("d1", "view", "bob"), headers=AUTH)
    assert allowed.status_code == denied.status_code == 200
    decision_id = allowed.json()["decisionId"]
    await _flush(client)
    assert (await client.get(f"/v1/decisions/{decision_id}", headers=AUTH)).status_code == 200
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = _families(response.text)
    duration = "rebac_http_request_duration_seconds"
    checks = _sample(families, duration, f"{duration}_count", route="/v1/permissions/check", code="2xx")
    assert checks == 2
    routes = {s.labels.get("route") for s in families[duration].samples}
    assert f"/v1/decisions/{decision_id}" not in routes  # templates, never raw paths
    assert any(r is not None and r.startswith("/v1/decisions/{") for r in routes)
    assert (
        _sample(families, "rebac_decisions", "rebac_decisions_total", source="check", result="allowed") == 1
    )
    assert _sample(families, "rebac_decisions", "rebac_decisions_total", source="check", result="denied") == 1
    assert _sample(families, "rebac_decision_log_queue_depth", "rebac_decision_log_queue_depth") == 0
    log = "rebac_decision_log_records"
    assert _sample(families, log, f"{log}_total", outcome="written") >= 2
    assert _sample(families, log, f"{log}_total", outcome="dropped") == 0
    assert _sample(families, "rebac_instance_info", "rebac_instance_info", instance=INSTANCE) == 1
    assert _sample(families, "rebac_index_lag_revisions", "rebac_index_lag_revisions") >= 0
    assert "rebac_index_lag_seconds" in families
    assert (
        _sample(
            families, "rebac_db_pool_connections", "rebac_db_pool_connections", pool="reads", state="idle"
        )
        >= 0
    )
    assert "rebac_check_cache_hit_ratio" in families


async def test_metrics_need_the_metrics_scope_by_default(client: Client, keys: KeyTable) -> None:
    assert (await client.get("/metrics")).status_code == 401
    checker = keys.add("check")
    scraper = keys.add("metrics")
    refused = await client.get("/metrics", headers={"Authorization": f"Bearer {checker.text}"})
    assert refused.status_code == 403
    assert "metrics" in refused.json()["detail"]
    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {scraper.text}"})
    assert allowed.status_code == 200
    assert "rebac_http_request_duration_seconds" in _families(allowed.text)


@pytest.mark.parametrize(("mode", "status"), [("public", 200), ("off", 404)])
async def test_public_and_off_modes(pg_store: TupleStore, keys: KeyTable, mode: str, status: int) -> None:
    async with AsyncTestClient(await _app(pg_store, keys, metrics=mode)) as test_client:
        assert (await test_client.get("/metrics")).status_code == status


async def test_check_and_evaluation_spans_carry_the_decision_id(
    client: Client, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    check = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH)
    evaluation = await client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "bob"},
            "resource": {"type": "document", "id": "d1"},
            "action": {"name": "view"},
        },
        headers=AUTH,
    )
    assert check.status_code == evaluation.status_code == 200
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"rebac.check", "rebac.evaluation"}
    checked = spans["rebac.check"].attributes or {}
    assert checked["rebac.decision_id"] == check.json()["decisionId"]
    assert (checked["rebac.source"], checked["rebac.permission"], checked["rebac.resource_type"]) == (
        "check",
        "view",
        "document",
    )
    assert checked["rebac.result"] == "allowed"
    evaluated = spans["rebac.evaluation"].attributes or {}
    assert evaluated["rebac.decision_id"] == evaluation.json()["context"]["decision_id"]
    assert evaluated["rebac.result"] == "denied"


async def test_records_name_their_decision_point_and_filter_by_it(client: Client) -> None:
    response = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH)
    decision_id = response.json()["decisionId"]
    await _flush(client)
    record = (await client.get(f"/v1/decisions/{decision_id}", headers=AUTH)).json()
    assert record["decisionPoint"] == INSTANCE
    mine = await client.get("/v1/decisions", params={"decisionPoint": INSTANCE}, headers=AUTH)
    assert decision_id in [d["decisionId"] for d in mine.json()["decisions"]]
    other = await client.get("/v1/decisions", params={"decisionPoint": "elsewhere"}, headers=AUTH)
    assert other.json()["decisions"] == []
    export = await client.get("/v1/decisions/export", params={"decisionPoint": INSTANCE}, headers=AUTH)
    assert decision_id in export.text


def test_tracing_is_off_by_default_and_refuses_unknown_modes() -> None:
    assert Settings.from_env({}).api.otel == "off"
    assert open_tracing("off", {}) is None
    with pytest.raises(Exception, match="REBAC_OTEL"):
        open_tracing("zipkin", {})
    console = open_tracing("console", {})
    assert console is not None
    console.close()
