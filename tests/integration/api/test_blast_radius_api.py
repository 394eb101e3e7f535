"""``POST /v1/blast-radius`` end to end: raw vs effective reach, paths, reverse view, budget, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml
from api_helpers import AUTH, FULL, Client, KeyTable, obj, subj

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def agents(client: Client) -> Client:
    """``schema/agents.zed`` with the relationships of ``schema/agents.yaml``."""
    schema = (ROOT / "schema" / "agents.zed").read_text(encoding="utf-8")
    response = await client.post("/v1/schema/write", json={"schema": schema}, headers=AUTH)
    assert response.status_code == 200, response.text
    validation = yaml.safe_load((ROOT / "schema" / "agents.yaml").read_text(encoding="utf-8"))
    lines = [line.strip() for line in validation["relationships"].splitlines()]
    body = "\n".join(line for line in lines if line and not line.startswith("//"))
    response = await client.post("/v1/relationships/importbulk", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    return client


async def blast(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/blast-radius", json={**FULL, **body}, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def group(result: dict[str, Any], resource_type: str, permission: str) -> dict[str, Any]:
    found = [
        g for g in result["groups"] if (g["resourceType"], g["permission"]) == (resource_type, permission)
    ]
    assert len(found) == 1, result["groups"]
    only: dict[str, Any] = found[0]
    return only


def entries_by_id(result: dict[str, Any], resource_type: str, permission: str) -> dict[str, dict[str, Any]]:
    return {e["resource"]["objectId"]: e for e in group(result, resource_type, permission)["entries"]}


async def test_raw_and_effective_reach_differ_for_a_capped_agent(agents: Client) -> None:
    result = await blast(agents, subject=subj("agent", "planner"))
    assert result["view"] == "blast_radius"
    assert result["delegated"] is True
    assert result["truncated"] is False
    assert "truncatedAt" not in result
    assert result["readAt"]["token"]
    views = entries_by_id(result, "document", "view")
    salaries = views["salaries"]
    assert salaries["raw"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert salaries["effective"] == "PERMISSIONSHIP_NO_PERMISSION"  # alice may not view the salaries
    assert salaries["capped"] is True
    assert salaries["path"]
    assert salaries["path"][0]["source"] == "agent:planner"
    assert salaries["path"][-1]["target"] == "document:salaries#view"
    design = views["design"]  # through team:eng#member -> folder:specs: alice may view it too
    assert design["raw"] == design["effective"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert design["capped"] is False
    assert design["path"][0]["kind"] == "relationship"
    counts = group(result, "document", "view")
    assert counts["rawCount"] > counts["effectiveCount"]


async def test_filters_raw_only_and_conditional_markers(agents: Client) -> None:
    result = await blast(
        agents, subject=subj("agent", "search"), resourceType="tool", permission="invoke", rawOnly=True
    )
    assert {(g["resourceType"], g["permission"]) for g in result["groups"]} == {("tool", "invoke")}
    invoke = entries_by_id(result, "tool", "invoke")
    assert all("effective" not in entry for entry in invoke.values())
    payments = invoke["payments"]
    assert payments["conditional"] is True
    assert payments["missingRequiredContext"] == ["amount"]
    assert any(step.get("caveat") == "amount_within_limit" for step in payments["path"])
    capped = await blast(agents, subject=subj("agent", "search"), resourceType="tool", permission="invoke")
    shell = entries_by_id(capped, "tool", "invoke")["shell"]
    assert shell["raw"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert shell["effective"] == "PERMISSIONSHIP_NO_PERMISSION"  # the planner is blocked


async def test_reverse_view_lists_humans_and_agents(agents: Client) -> None:
    result = await blast(agents, reverse=True, resource=obj("document", "launch"), permission="view")
    assert result["view"] == "who_can_reach"
    assert result["resource"] == obj("document", "launch")
    entries = group(result, "document", "view")["entries"]
    found = {
        f"{e['subject']['object']['objectType']}:{e['subject']['object']['objectId']}": e for e in entries
    }
    assert {"user:root", "agent:planner", "agent:search", "agent:fetcher"} <= set(found)
    assert found["user:root"]["raw"] == found["user:root"]["effective"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert found["agent:fetcher"]["raw"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert found["agent:fetcher"]["effective"] == "PERMISSIONSHIP_NO_PERMISSION"
    assert all(entry["path"] for entry in entries)


async def test_truncation_is_explicit(agents: Client) -> None:
    result = await blast(agents, subject=subj("user", "alice"), budget=2)
    assert result["truncated"] is True
    assert result["truncatedAt"] == 2
    assert result["message"].startswith("truncated at 2")
    assert result["budget"] == 2
    assert sum(len(g["entries"]) for g in result["groups"]) <= 2


async def test_budget_over_the_limit_and_bad_requests_are_problems(agents: Client) -> None:
    over = await agents.post(
        "/v1/blast-radius", json={"subject": subj("user", "alice"), "budget": 10**9}, headers=AUTH
    )
    assert over.status_code == 400
    assert over.headers["content-type"].startswith("application/problem+json")
    problem = over.json()
    assert problem["type"] == "urn:rebac:problem:limit-exceeded"
    assert problem["limit"] == "EXPAND_NODE_BUDGET"
    zero = await agents.post(
        "/v1/blast-radius", json={"subject": subj("user", "alice"), "budget": 0}, headers=AUTH
    )
    assert zero.status_code == 400
    missing = await agents.post("/v1/blast-radius", json={"reverse": True}, headers=AUTH)
    assert missing.status_code == 400
    unknown = await agents.post("/v1/blast-radius", json={"subject": subj("robot", "x")}, headers=AUTH)
    assert unknown.status_code in {400, 404}


async def test_graph_exports(agents: Client) -> None:
    response = await agents.post(
        "/v1/blast-radius",
        json={**FULL, "subject": subj("agent", "planner"), "format": "graphml"},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    graph = nx.parse_graphml(response.text)
    assert graph.graph["view"] == "blast_radius"
    assert graph.graph["origin"] == "agent:planner"
    assert graph.has_edge("agent:planner", "document:salaries#view")
    edge = graph.edges["agent:planner", "document:salaries#view"]
    assert edge["raw"] == "has_permission"
    assert edge["effective"] == "no_permission"
    data = await agents.post(
        "/v1/blast-radius",
        json={**FULL, "reverse": True, "resource": obj("document", "launch"), "format": "json-graph"},
        headers=AUTH,
    )
    assert data.status_code == 200, data.text
    assert data.headers["content-type"].startswith("application/json")
    loaded = nx.node_link_graph(data.json(), edges="edges")
    assert loaded.graph["view"] == "who_can_reach"
    assert loaded.has_edge("user:root", "document:launch#view")


async def test_requires_an_admin_key(agents: Client, keys: KeyTable) -> None:
    body = {"subject": subj("agent", "planner")}
    assert (await agents.post("/v1/blast-radius", json=body)).status_code == 401
    check_only = keys.add("check")
    denied = await agents.post(
        "/v1/blast-radius", json=body, headers={"Authorization": f"Bearer {check_only.text}"}
    )
    assert denied.status_code == 403
    admin = keys.add("admin")
    allowed = await agents.post(
        "/v1/blast-radius", json=body, headers={"Authorization": f"Bearer {admin.text}"}
    )
    assert allowed.status_code == 200, allowed.text
