# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Blast radius (DESIGN §7): raw vs effective reach, a valid path per entry, the reverse view,
explicit budget truncation, graph export, and effective reach == brute-force delegated checks.
"""

from __future__ import annotations

import io
import itertools
import json
import random

import networkx as nx
import pytest
from engine_helpers import make_engine

from rebac.engine import Engine, Permissionship
from rebac.engine.model import reachability_for
from rebac.errors import InvalidInputError
from rebac.refs import ObjectRef, parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.blast_radius import (
    BlastRadius,
    StepKind,
    blast_radius,
    to_graphml,
    to_json,
    to_networkx,
    who_can_reach,
)
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate

YES = Permissionship.HAS_PERMISSION
NO = Permissionship.NO_PERMISSION
MAYBE = Permissionship.CONDITIONAL
FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)

SCHEMA = """
definition user {}

caveat trusted(ok bool) { ok }

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition team {
    relation member: user | agent | team#member
}

definition org {
    relation admin: user | agent
    permission administer = admin
}

definition folder {
    relation org: org
    relation parent: folder
    relation viewer: user | agent | team#member | user:* | agent:* | agent with trusted
    permission view = viewer + parent->view + org->administer
}

definition doc {
    relation folder: folder
    relation viewer: user | agent | team#member
    relation banned: user | agent
    permission view = (viewer + folder->view) - banned
}
"""

WORLD = [
    "agent:bot#principal@user:alice",
    "agent:sub#principal@agent:bot",
    "team:eng#member@user:alice",
    "team:eng#member@agent:bot",
    "team:all#member@team:eng#member",
    "team:all#member@user:carol",
    "org:acme#admin@user:alice",
    "folder:root#org@org:acme",
    "folder:shared#parent@folder:root",
    "folder:secret#viewer@agent:bot",  # the agent's own grant; alice cannot see it
    "folder:pub#viewer@user:*",
    "folder:pub#viewer@agent:*",
    "folder:cav#viewer@agent:bot[trusted]",
    "doc:1#folder@folder:shared",
    "doc:2#folder@folder:secret",
    "doc:3#viewer@team:all#member",
    "doc:4#viewer@agent:bot",
    "doc:4#banned@agent:bot",
    "doc:5#viewer@agent:bot",
    "doc:5#viewer@user:alice",
    "doc:6#folder@folder:cav",
]


def s(text: str):
    return parse_subject(text)


def assert_valid_path(result, entry) -> None:
    """The path starts at the subject, is connected, and ends at resource#permission."""
    path = entry.path
    assert path, f"no path for {entry}"
    assert path[0].source == str(entry.subject)
    if path[0].kind is StepKind.WILDCARD:  # the subject matched its type's wildcard grant
        assert path[0].target == f"{entry.subject.type}:*"
    assert path[-1].target == f"{entry.resource}#{entry.permission}"
    for a, b in itertools.pairwise(path):
        assert a.target == b.source
    for step in path:
        if step.kind is StepKind.RELATIONSHIP:
            rel = parse_relationship(step.detail)  # a real, readable relationship
            assert f"{rel.resource}#{rel.relation}" == step.target
    assert result.revision


def reach_set(result: BlastRadius, *, effective: bool) -> set[tuple[str, str]]:
    out = set()
    for entry in result.entries:
        value = entry.effective if effective else entry.raw
        if value is YES:
            out.add((str(entry.resource), entry.permission))
    return out


async def test_raw_vs_effective_differ_for_capped_agent():
    engine, _ = await make_engine(SCHEMA, WORLD)
    result = await blast_radius(engine, s("agent:bot"), consistency=FULL)
    assert result.delegated
    assert not result.truncated
    assert result.message is None
    raw = reach_set(result, effective=False)
    eff = reach_set(result, effective=True)
    # Its own grant on the secret folder (and doc:2 inside it) is raw reach only: alice lacks it.
    assert ("folder:secret", "view") in raw
    assert ("doc:2", "view") in raw
    assert ("folder:secret", "view") not in eff
    assert ("doc:2", "view") not in eff
    # Reach shared with alice survives the cap.
    assert ("doc:3", "view") in eff
    assert ("doc:5", "view") in eff
    assert ("folder:pub", "view") in eff
    # Banned: neither.
    assert ("doc:4", "view") not in raw
    # Relations are listed too.
    assert ("doc:4", "viewer") in raw
    capped = [e for e in result.entries if e.capped]
    assert any(str(e.resource) == "folder:secret" for e in capped)
    # The caveated grant is conditional, and says which parameter is missing.
    cav = [e for e in result.entries if str(e.resource) == "folder:cav" and e.permission == "view"]
    assert cav
    assert cav[0].raw is MAYBE
    assert cav[0].conditional
    assert "ok" in cav[0].missing
    # Groups are per resource type and permission.
    keys = [(g.resource_type, g.permission) for g in result.groups]
    assert keys == sorted(keys)
    assert ("doc", "view") in keys


async def test_human_blast_radius_is_not_capped_and_raw_only():
    engine, _ = await make_engine(SCHEMA, WORLD)
    result = await blast_radius(engine, s("user:alice"), consistency=FULL)
    assert not result.delegated
    assert all(e.effective is e.raw for e in result.entries)
    assert ("doc:1", "view") in reach_set(result, effective=True)  # via org admin
    raw_only = await blast_radius(engine, s("agent:bot"), consistency=FULL, raw_only=True)
    assert all(e.effective is None for e in raw_only.entries)
    assert reach_set(raw_only, effective=False) == reach_set(
        await blast_radius(engine, s("agent:bot"), consistency=FULL), effective=False
    )


async def test_path_present_and_valid_for_each_entry():
    engine, _ = await make_engine(SCHEMA, WORLD)
    for subject in ("agent:bot", "user:alice", "user:carol", "agent:sub", "team:eng#member"):
        result = await blast_radius(engine, s(subject), consistency=FULL)
        assert list(result.entries), subject
        for entry in result.entries:
            assert_valid_path(result, entry)
    alice = await blast_radius(engine, s("user:alice"), consistency=FULL)
    doc1 = next(e for e in alice.entries if str(e.resource) == "doc:1" and e.permission == "view")
    kinds = [step.kind for step in doc1.path]
    assert kinds[0] is StepKind.RELATIONSHIP  # org:acme#admin@user:alice
    assert StepKind.ARROW in kinds
    pub = next(e for e in alice.entries if str(e.resource) == "folder:pub" and e.permission == "view")
    assert pub.path[0].kind is StepKind.WILDCARD


async def test_filters_restrict_types_and_permissions():
    engine, _ = await make_engine(SCHEMA, WORLD)
    result = await blast_radius(
        engine, s("agent:bot"), consistency=FULL, resource_types=["doc"], permissions=["view"]
    )
    assert {(g.resource_type, g.permission) for g in result.groups} == {("doc", "view")}


async def test_reverse_view_lists_humans_and_agents():
    engine, _ = await make_engine(SCHEMA, WORLD)
    result = await who_can_reach(engine, parse_object("doc:5"), "view", consistency=FULL)
    subjects = {str(e.subject): e for e in result.entries}
    assert {"user:alice", "agent:bot"} <= set(subjects)
    assert subjects["agent:bot"].effective is YES  # alice may view doc:5 too
    for entry in result.entries:
        assert_valid_path(result, entry)
    secret = await who_can_reach(engine, parse_object("doc:2"), "view", consistency=FULL)
    bot = next(e for e in secret.entries if str(e.subject) == "agent:bot")
    assert bot.raw is YES
    assert bot.effective is NO  # capped: alice cannot view it
    doc3 = await who_can_reach(engine, parse_object("doc:3"), consistency=FULL)
    view = {str(e.subject) for e in doc3.entries if e.permission == "view"}
    assert {"user:alice", "agent:bot", "user:carol"} <= view
    for entry in doc3.entries:
        assert_valid_path(doc3, entry)
    pub = await who_can_reach(engine, parse_object("folder:pub"), "view", consistency=FULL)
    assert "user:*" in {str(e.subject) for e in pub.entries}


async def test_budget_truncation_reported_explicitly():
    rels = [f"doc:d{i}#viewer@agent:bot" for i in range(30)]
    engine, _ = await make_engine(SCHEMA, [*WORLD, *rels])
    result = await blast_radius(engine, s("agent:bot"), consistency=FULL, budget=10)
    assert result.truncated
    assert result.truncated_at == 10
    assert result.message is not None
    assert result.message.startswith("truncated at 10")
    assert result.nodes_visited <= 10
    assert sum(len(g.entries) for g in result.groups) <= 10
    # Entries-only bound: a big graph budget, few entries.
    full = await blast_radius(engine, s("agent:bot"), consistency=FULL)
    assert not full.truncated
    total = sum(len(g.entries) for g in full.groups)
    assert total > 30
    reverse = await who_can_reach(engine, parse_object("doc:3"), consistency=FULL, budget=2)
    assert reverse.truncated
    assert reverse.message == f"truncated at 2: {reverse.truncated_reason}"
    with pytest.raises(InvalidInputError):
        await blast_radius(engine, s("agent:bot"), consistency=FULL, budget=0)


async def test_graphml_and_json_export_round_trip():
    engine, _ = await make_engine(SCHEMA, WORLD)
    result = await blast_radius(engine, s("agent:bot"), consistency=FULL)
    graph = to_networkx(result)
    assert isinstance(graph, nx.DiGraph)
    reach_edges = {(u, v) for u, v, d in graph.edges(data=True) if d["reach"]}
    assert reach_edges == {(str(e.subject), f"{e.resource}#{e.permission}") for e in result.entries}
    assert graph.graph["origin"] == "agent:bot"
    back = nx.read_graphml(io.StringIO(to_graphml(result)))
    assert set(back.nodes) == set(graph.nodes)
    assert set(back.edges) == set(graph.edges)
    for u, v, data in graph.edges(data=True):
        assert back.edges[u, v] == data
    assert back.graph["truncated"] is False
    loaded = nx.node_link_graph(json.loads(to_json(result)), edges="edges")
    assert set(loaded.edges) == set(graph.edges)
    for u, v, data in graph.edges(data=True):
        assert loaded.edges[u, v] == data
    reverse = await who_can_reach(engine, parse_object("doc:3"), consistency=FULL)
    rgraph = nx.read_graphml(io.StringIO(to_graphml(reverse)))
    assert rgraph.graph["view"] == "who_can_reach"
    assert ("user:carol", "doc:3#view") in rgraph.edges


# --- effective reach == brute force delegated checks ------------------------------------------------

RANDOM_SCHEMA = """
definition user {}

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition team {
    relation member: user | agent | team#member
}

definition folder {
    relation parent: folder
    relation viewer: user | agent | team#member | agent:*
    relation editor: user | agent | team#member
    permission edit = editor + parent->edit
    permission view = viewer + edit + parent->view
}

definition doc {
    relation folder: folder
    relation viewer: user | agent | team#member
    relation owner: user | agent
    relation banned: agent
    permission edit = owner & folder->edit
    permission view = (viewer + owner + folder->view) - banned
}
"""


def random_world(seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible test world
    users = [f"user:u{i}" for i in range(4)]
    agents = [f"agent:a{i}" for i in range(6)]
    rels: set[str] = set()
    for i, agent in enumerate(agents):  # a delegation forest (some orphans, some 2-3 hops)
        if rng.random() < 0.85:
            parent = rng.choice(users + agents[:i])
            rels.add(f"{agent}#principal@{parent}")
    for t in range(3):
        for member in rng.sample(users + agents, 3):
            rels.add(f"team:t{t}#member@{member}")
    rels.add("team:t1#member@team:t0#member")
    folders = [f"folder:f{i}" for i in range(6)]
    for i in range(1, len(folders)):
        if rng.random() < 0.7:
            rels.add(f"{folders[i]}#parent@{rng.choice(folders[:i])}")
    grantees = [*users, *agents, "team:t0#member", "team:t1#member", "team:t2#member"]
    for folder in folders:
        for relation in ("viewer", "editor"):
            if rng.random() < 0.6:
                rels.add(f"{folder}#{relation}@{rng.choice(grantees)}")
    if rng.random() < 0.5:
        rels.add(f"{rng.choice(folders)}#viewer@agent:*")
    for d in range(12):
        rels.add(f"doc:d{d}#folder@{rng.choice(folders)}")
        if rng.random() < 0.5:
            rels.add(f"doc:d{d}#viewer@{rng.choice(grantees)}")
        if rng.random() < 0.4:
            rels.add(f"doc:d{d}#owner@{rng.choice(users + agents)}")
        if rng.random() < 0.2:
            rels.add(f"doc:d{d}#banned@{rng.choice(agents)}")
    return sorted(rels)


async def brute_force(engine: Engine, subject, revision, *, delegation: bool) -> set[tuple[str, str]]:
    definitions = engine.model.schema.definitions
    ids = {"folder": [f"f{i}" for i in range(6)], "doc": [f"d{i}" for i in range(12)]}
    out = set()
    for type_name, object_ids in ids.items():
        definition = definitions[type_name]
        for member in [*definition.relations, *definition.permissions]:
            for object_id in object_ids:
                result = await engine.check(
                    ObjectRef(type_name, object_id), member, subject, revision=revision, delegation=delegation
                )
                if result.allowed:
                    out.add((f"{type_name}:{object_id}", member))
    return out


@pytest.mark.parametrize("seed", range(12))
async def test_effective_reach_equals_brute_force_delegated_checks(seed):
    engine, _ = await make_engine(RANDOM_SCHEMA, random_world(seed))
    revision = await engine.resolve(FULL)
    checked_any = False
    for i in range(6):
        subject = s(f"agent:a{i}")
        result = await blast_radius(engine, subject, revision=revision, resource_types=["folder", "doc"])
        assert not result.truncated
        assert reach_set(result, effective=True) == await brute_force(
            engine, subject, revision, delegation=True
        ), (seed, i)
        assert reach_set(result, effective=False) == await brute_force(
            engine, subject, revision, delegation=False
        ), (seed, i)
        for entry in result.entries:
            assert_valid_path(result, entry)
        checked_any = checked_any or bool(reach_set(result, effective=False))
    assert checked_any


async def test_postgres_variant(store_factory):
    compiled = compile_schema(SCHEMA, "<test>")
    async with store_factory("postgres", quantization_seconds=0) as store:
        await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in WORLD])
        engine = Engine.build(store, compiled, reachability=reachability_for(compiled))
        result = await blast_radius(engine, s("agent:bot"), consistency=FULL)
        assert ("folder:secret", "view") in reach_set(result, effective=False)
        assert ("folder:secret", "view") not in reach_set(result, effective=True)
        for entry in result.entries:
            assert_valid_path(result, entry)
        reverse = await who_can_reach(engine, parse_object("doc:5"), "view", consistency=FULL)
        assert {"user:alice", "agent:bot"} <= {str(e.subject) for e in reverse.entries}
