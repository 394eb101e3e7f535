"""The blast-radius page over HTTP: the graph it sends the browser, the reverse view, the export.

The browser test draws the graph and clicks a path; these check what the server shapes: which
nodes are effective or capped reach, that every node's path runs from the subject to it, the
aggregation of a reach too large to draw node by node, and the refusals.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import networkx as nx
import pytest
from console_client import Client, console_app, seed, sign_in

from rebac.console.reach_views import MAX_DRAWN_NODES, TIMES

pytestmark = pytest.mark.integration

KEY = "console-reach-preshared-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
SCHEMA = """
definition user {}
/** An agent: capped by its principal. */
definition agent {
  relation principal: user | agent
  acts_for principal
}
definition team { relation member: user | agent }
definition document {
  relation owner: user
  relation viewer: user | agent | team#member
  permission view = owner + viewer
}
"""
LINES = [
    "agent:bot#principal@user:alice",
    "document:a#viewer@agent:bot",
    "document:a#viewer@user:alice",
    "team:t#member@agent:bot",
    "document:b#viewer@team:t#member",
    "document:c#owner@user:carol",
]


@pytest.fixture
async def client(store_factory: Any, pg_url: str) -> AsyncIterator[Client]:
    async with console_app(store_factory, pg_url, KEY) as opened:
        yield opened


def _graph(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="reach-data">(.*?)</script>', text, re.DOTALL)
    assert found is not None, "the page carries no graph"
    data: dict[str, Any] = json.loads(found[1])
    return data


def _nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["data"]["id"]: {**n["data"], "classes": set(n["classes"].split())} for n in graph["nodes"]}


def _walk(graph: dict[str, Any], path: list[str]) -> list[str]:
    """The node ids a single path's edges visit, in order (asserting that they chain)."""
    edges = {e["data"]["id"]: e["data"] for e in graph["edges"]}
    visited = [edges[path[0]]["source"]]
    for edge_id in path:
        assert edges[edge_id]["source"] == visited[-1], "the path's edges do not chain"
        visited.append(edges[edge_id]["target"])
    return visited


def _leads(graph: dict[str, Any], path: list[str], start: str, end: str) -> bool:
    """Whether the edges ``path`` (one path or the union of several) all lie on ways from start to end."""
    edges = {e["data"]["id"]: e["data"] for e in graph["edges"]}
    drawn = nx.DiGraph([(edges[e]["source"], edges[e]["target"]) for e in path])
    return all(nx.has_path(drawn, start, n) and nx.has_path(drawn, n, end) for n in drawn)


async def test_forward_reach_tells_effective_from_capped_and_each_path_starts_at_the_subject(
    client: Client,
) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/blast-radius")
    page = await client.get("/console/blast-radius", params={"subject": "agent:bot"})
    assert page.status_code == 200
    assert 'id="reach-graph"' in page.text
    assert "removed by delegation caps" in page.text
    graph = _graph(page.text)
    nodes = _nodes(graph)
    assert "origin" in nodes["agent:bot"]["classes"]
    assert {"reached", "state-effective"} <= nodes["document:a#view"]["classes"]
    # alice (bot's principal) cannot view document:b: bot's raw reach there is capped away
    assert {"reached", "state-capped"} <= nodes["document:b#view"]["classes"]
    assert "state-effective" not in nodes["document:b#view"]["classes"]
    # relations count as reach too: bot is a member of team t (alice is not: capped)
    assert {"reached", "state-capped"} <= nodes["team:t#member"]["classes"]
    assert "document:c#view" not in nodes
    walked = _walk(graph, nodes["document:b#view"]["path"])
    assert walked[0] == "agent:bot"
    assert walked[-1] == "document:b#view"
    assert "team:t#member" in walked
    assert _walk(graph, nodes["team:t#member"]["path"]) == ["agent:bot", "team:t#member"]
    assert nodes["agent:bot"]["path"] == []
    rows = re.findall(r'<tr data-entry="([^"]+)" class="state-(\w+)"', page.text)
    assert ("document:b#view", "capped") in rows
    assert ("document:a#view", "effective") in rows


async def test_raw_only_and_a_narrowed_reach(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/blast-radius")
    page = await client.get(
        "/console/blast-radius", params={"subject": "agent:bot", "permission": "view", "raw_only": "1"}
    )
    assert page.status_code == 200
    nodes = _nodes(_graph(page.text))
    reached = {n for n, d in nodes.items() if "reached" in d["classes"]}
    assert reached == {"document:a#view", "document:b#view"}
    assert all("state-raw" in nodes[n]["classes"] for n in reached)
    assert "effective reach not computed" in page.text


async def test_the_reverse_view_draws_who_can_reach_a_resource(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/blast-radius")
    page = await client.get("/console/blast-radius", params={"resource": "document:b", "permission": "view"})
    assert page.status_code == 200
    assert 'id="tab-reverse" class="active"' not in page.text  # the class comes first
    assert 'class="active" id="tab-reverse"' in page.text
    graph = _graph(page.text)
    nodes = _nodes(graph)
    assert "origin" in nodes["document:b#view"]["classes"]
    assert {"reached", "state-capped"} <= nodes["agent:bot"]["classes"]
    walked = _walk(graph, nodes["agent:bot"]["path"])
    assert (walked[0], walked[-1]) == ("agent:bot", "document:b#view")
    assert "user:alice" not in nodes  # alice views document:a, not b
    reverse_a = await client.get("/console/blast-radius", params={"resource": "document:a"})
    subjects = set(re.findall(r'<tr data-entry="([^"]+)"', reverse_a.text))
    assert {"agent:bot", "user:alice"} <= subjects
    assert 'href="/console/blast-radius?subject=user%3Aalice"' in reverse_a.text


async def test_export_is_the_services_node_link_json_and_graphml(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/blast-radius")
    page = await client.get("/console/blast-radius", params={"subject": "agent:bot"})
    link = re.search(r'href="(/console/blast-radius/export\?[^"]+format=json-graph)"', page.text)
    assert link is not None
    exported = await client.get(html.unescape(link[1]))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert 'filename="blast-radius-agent_bot.json"' in exported.headers["content-disposition"]
    graph = nx.node_link_graph(exported.json(), edges="edges")
    assert graph.graph["origin"] == "agent:bot"
    assert graph.edges["agent:bot", "document:b#view"]["effective"] == "no_permission"
    assert graph.edges["agent:bot", "document:a#view"]["effective"] == "has_permission"
    graphml = await client.get(
        "/console/blast-radius/export", params={"resource": "document:b", "format": "graphml"}
    )
    assert graphml.status_code == 200
    assert graphml.headers["content-type"].startswith("application/xml")
    assert "who-can-reach-document_b.graphml" in graphml.headers["content-disposition"]
    parsed = nx.parse_graphml(graphml.text)
    assert parsed.graph["view"] == "who_can_reach"
    assert parsed.has_edge("agent:bot", "document:b#view")


async def test_a_reach_too_large_to_draw_is_aggregated_by_type(client: Client) -> None:
    many = [f"document:d{i}#viewer@agent:bot" for i in range(MAX_DRAWN_NODES // 2 + 10)]
    await seed(client, ADMIN, SCHEMA, [*LINES, *many])
    await sign_in(client, KEY, "/console/blast-radius")
    page = await client.get("/console/blast-radius", params={"subject": "agent:bot"})
    assert page.status_code == 200
    assert 'id="aggregated"' in page.text
    nodes = _nodes(_graph(page.text))
    assert len(nodes) < 10
    view = nodes["document#view"]
    assert "aggregate" in view["classes"]
    assert view["count"] == len(many) + 2  # d0.. plus a and b
    assert view["label"] == f"document#view {TIMES}{len(many) + 2}"
    assert {"state-effective", "state-capped"} <= view["classes"]
    assert _leads(_graph(page.text), view["path"], "agent:bot", "document#view")
    assert f"the first 200 of {2 * (len(many) + 2) + 1}" in page.text  # view + viewer each, team#member


async def test_bad_queries_are_refused_with_a_page(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/blast-radius")
    form = await client.get("/console/blast-radius")
    assert form.status_code == 200
    assert 'id="reach-graph"' not in form.text
    for params, status, words in (
        ({"subject": "not a subject"}, 400, "subject"),
        ({"subject": "robot:x"}, 400, "robot"),
        ({"subject": "agent:bot", "resource": "document:a"}, 400, "not both"),
        ({"resource": "document:a", "permission": "nope"}, 400, "nope"),
    ):
        refused = await client.get("/console/blast-radius", params=params)
        assert refused.status_code == status, params
        assert words in refused.text, params
        assert 'id="problem"' in refused.text
    bad = await client.get("/console/blast-radius/export", params={"subject": "agent:bot", "format": "png"})
    assert bad.status_code == 400
    assert "json-graph or graphml" in bad.text
    client.cookies.clear()
    out = await client.get(
        "/console/blast-radius/export", params={"subject": "agent:bot"}, follow_redirects=False
    )
    assert out.status_code == 303
    assert out.headers["location"].startswith("/console/login")
