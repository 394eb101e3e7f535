"""The admin endpoints through the sync client: decision log, identities, reviews, blast radius."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from rebac.client import Client, DecisionRecord, Permissionship
from rebac.refs import ObjectRef, SubjectRef

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def _wait_for(client: Client, subject: str, count: int) -> list[DecisionRecord]:
    deadline = time.monotonic() + 10
    while True:
        found = list(client.decisions(subject=subject))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_decision_log_pages_filters_and_export(sdk: Client, uid: str) -> None:
    who = f"user:log-{uid}"
    sdk.write_relationships([f"document:{uid}#viewer@{who}"])
    started = datetime.now(UTC) - timedelta(seconds=5)
    decision_ids = [sdk.decide(f"document:{uid}", "view", who).decision_id for _ in range(3)]
    sdk.decide(f"document:{uid}-none", "view", who)
    records = _wait_for(sdk, who, 4)
    assert len(records) == 4
    assert set(decision_ids) <= {r.decision_id for r in records}
    pages = sdk.decisions(subject=who, page_size=1)
    assert len(list(pages)) == 4
    assert pages.pages >= 4
    allowed = list(sdk.decisions(subject=who, result="allowed", since=started, page_size=2))
    assert {r.result for r in allowed} == {"allowed"}
    assert len(allowed) == 3
    assert [r.resource for r in sdk.decisions(subject=who, resource=f"document:{uid}-none")] == [
        f"document:{uid}-none"
    ]
    with sdk.export_decisions(subject=who) as exported:
        assert sorted(r.decision_id for r in exported) == sorted(r.decision_id for r in records)
    assert len(list(sdk.export_decisions(subject=who, limit=2))) == 2
    stats = sdk.decision_stats()
    assert stats.enabled
    assert stats.recorded >= 4


def test_identities_and_reviews(sdk: Client, uid: str) -> None:
    for i in range(3):
        sdk.spawn_agent(f"agent:inv{i}-{uid}", f"user:h-{uid}", [f"document:{uid}#viewer"])
    identities = sdk.identities(identity_type="agent", page_size=1, blast_budget=50)
    mine = [i for i in identities if i.subject.endswith(f"-{uid}")]
    assert sorted(i.subject for i in mine) == [f"agent:inv{i}-{uid}" for i in range(3)]
    assert identities.done
    assert all(i.delegates and i.chain[-1] == f"user:h-{uid}" for i in mine)
    assert all("never_reviewed" in i.flags for i in mine)
    assert list(sdk.reviews(subject=f"agent:inv0-{uid}")) == []
    assert isinstance(list(sdk.reviews(page_size=1)), list)


def test_blast_radius_forward_reverse_and_graph_formats(sdk: Client, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"document:{uid}#viewer@{human}"])
    sdk.spawn_agent(agent, human, [f"document:{uid}#viewer", f"document:{uid}-x#viewer"])
    forward = sdk.blast_radius(agent, resource_type="document")
    assert forward.view == "blast_radius"
    assert forward.subject == SubjectRef("agent", f"a-{uid}")
    assert forward.delegated
    view = next(g for g in forward.groups if g.permission == "view")
    entries = {e.resource.id: e for e in view.entries}
    assert entries[uid].effective is Permissionship.HAS_PERMISSION
    assert entries[f"{uid}-x"].raw is Permissionship.HAS_PERMISSION
    assert entries[f"{uid}-x"].capped
    assert entries[uid].path
    reverse = sdk.blast_radius(resource=f"document:{uid}", reverse=True, permission="view")
    assert reverse.view == "who_can_reach"
    assert reverse.resource == ObjectRef("document", uid)
    reached = {e.subject for g in reverse.groups for e in g.entries}
    assert SubjectRef("user", f"h-{uid}") in reached
    graph = json.loads(sdk.blast_radius_graph(agent))
    assert graph["nodes"]
    graphml = ET.fromstring(sdk.blast_radius_graph(agent, graph_format="graphml"))  # noqa: S314 - our server
    assert graphml.tag.endswith("graphml")
    small = sdk.blast_radius(agent, budget=1)
    assert small.truncated
