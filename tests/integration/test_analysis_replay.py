"""What-if flips equal a brute-force recheck, the live store is unchanged, and removable grants are safe.

A generated dataset (delegation chains, nested teams, folder inheritance, exclusions, a caveat)
is loaded into PostgreSQL and a few hundred decisions are logged through real checks. Then:

* the what-if report under a proposed schema and relationship changes is compared with a brute
  force: the change applied to a separate fresh database, every logged decision checked again
  there, and the results diffed with the log;
* the live store is compared before and after (every relationship, the schema version, the head
  revision, and the decision log, which gains no replayed decision);
* for a few agents, the least-privilege report's removable grants are deleted in that separate
  database and every used check (the agent's and its delegates') is still allowed there, and the
  agent's reach does not grow.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import pytest

from rebac.config import Settings
from rebac.refs import ObjectRef, SubjectRef, parse_relationship
from rebac.services.blast_radius import blast_radius
from rebac.services.core import Services
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionRecord,
    DecisionResult,
    RelationshipFilter,
    TupleStore,
)
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)
TYPES = ("agent", "team", "folder", "doc")

SCHEMA = """
caveat weekday(day string) {
    day != "sat" && day != "sun"
}

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
    relation viewer: user | agent | team#member
    permission view = viewer + parent->view
}

definition doc {
    relation folder: folder
    relation viewer: user | agent | team#member | user with weekday
    relation editor: user | agent
    relation banned: user | agent
    permission edit = editor
    permission view = (viewer + edit + folder->view) - banned
}
"""


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - a reproducible dataset, not a secret


PROPOSED = SCHEMA.replace("permission view = viewer + parent->view", "permission view = viewer").replace(
    "(viewer + edit + folder->view) - banned", "(viewer + folder->view) - banned"
)


def generate(rng: random.Random) -> list[str]:
    """A small agents world: users, delegation chains, nested teams, a folder forest, documents."""
    users = [f"user:u{i}" for i in range(16)]
    agents = [f"agent:a{i}" for i in range(12)]
    rels: set[str] = set()
    for i, agent in enumerate(agents):
        rels.add(f"{agent}#principal@{rng.choice(users)}")
        if i >= 4 and rng.random() < 0.5:
            rels.add(f"{agent}#principal@{agents[rng.randrange(i)]}")
    for t in range(5):
        for member in rng.sample(users + agents, 4):
            rels.add(f"team:t{t}#member@{member}")
        if t:
            rels.add(f"team:t{t}#member@team:t{rng.randrange(t)}#member")
    for f in range(10):
        if f:
            rels.add(f"folder:f{f}#parent@folder:f{rng.randrange(f)}")
        for viewer in rng.sample([*users, *agents, *(f"team:t{t}#member" for t in range(5))], 2):
            rels.add(f"folder:f{f}#viewer@{viewer}")
    for d in range(40):
        rels.add(f"doc:d{d}#folder@folder:f{rng.randrange(10)}")
        for viewer in rng.sample(users + agents, 2):
            rels.add(f"doc:d{d}#viewer@{viewer}")
        if rng.random() < 0.3:
            rels.add(f"doc:d{d}#viewer@{rng.choice(users)}[weekday]")
        if rng.random() < 0.4:
            rels.add(f"doc:d{d}#viewer@team:t{rng.randrange(5)}#member")
        rels.add(f"doc:d{d}#editor@{rng.choice(users + agents)}")
        if rng.random() < 0.2:
            rels.add(f"doc:d{d}#banned@{rng.choice(users + agents)}")
    by_key = {parse_relationship(r).key(): r for r in sorted(rels)}  # one caveat variant per key
    return sorted(by_key.values())


def key(text: str) -> tuple[str, ...]:
    return parse_relationship(text).key()


def proposed_changes(rng: random.Random, rels: list[str]) -> tuple[list[str], list[str]]:
    """Relationships to delete and to touch (the touched ones conform to the proposed schema)."""
    deleted = rng.sample([r for r in rels if r.startswith(("doc:", "team:", "agent:"))], 15)
    users = [f"user:u{i}" for i in range(16)] + [f"agent:a{i}" for i in range(12)]
    existing = {key(r) for r in rels}
    touched = {f"doc:d{rng.randrange(40)}#viewer@{rng.choice(users)}" for _ in range(15)}
    return deleted, sorted(r for r in touched if key(r) not in existing)


async def everything(store: TupleStore) -> list[str]:
    revision = await store.resolve(FULL)
    return sorted(
        [
            str(r)
            for t in TYPES
            async for r in store.query(RelationshipFilter(resource_type=t), revision=revision)
        ]
    )


async def logged(services: Services) -> list[DecisionRecord]:
    return [r async for r in services.decisions.export(DecisionFilter())]


async def load(services: Services, store: TupleStore, schema: str, rels: Iterable[str]) -> None:
    await services.schemas.write(schema, author="test", force=True)
    await store.bulk_import(parse_relationship(r) for r in rels)


async def log_checks(services: Services, rng: random.Random, count: int) -> None:
    current = await services.engines.current()
    revision = await services.checks.revision(current, FULL)
    subjects = [SubjectRef("user", f"u{i}") for i in range(16)] + [
        SubjectRef("agent", f"a{i}") for i in range(12)
    ]
    asked: list[tuple[ObjectRef, str, SubjectRef, dict[str, Any]]] = []
    for _ in range(count):
        if asked and rng.random() < 0.2:
            resource, permission, subject, context = rng.choice(asked)  # repeated checks: deduplicated
        else:
            resource = ObjectRef("doc", f"d{rng.randrange(40)}")
            permission = rng.choice(["view", "view", "edit"])
            subject = rng.choice(subjects)
            context = {"day": rng.choice(["mon", "sat"])}
            asked.append((resource, permission, subject, context))
        await services.checks.decide(
            current, None, "check", revision, (resource, permission, subject), context=context
        )
    assert services.decisions.recorder is not None
    await services.decisions.recorder.flush()


@pytest.fixture
async def live(store_factory: Any) -> AsyncIterator[tuple[Services, TupleStore, list[str]]]:
    async with store_factory("indexed", quantization_seconds=0) as store:
        services = Services(store, Settings(), schema_refresh_seconds=0)
        services.start()
        rels = generate(seeded(16))
        await load(services, store, SCHEMA, rels)
        await log_checks(services, seeded(17), 400)
        try:
            yield services, store, rels
        finally:
            await services.aclose()


@pytest.fixture
async def copy(empty_database_url: str) -> AsyncIterator[tuple[Services, TupleStore]]:
    """A separate fresh database: the brute force's world."""
    upgrade_to_head(empty_database_url)
    store = await PostgresTupleStore.connect(empty_database_url, quantization_seconds=0)
    try:
        yield Services(store, Settings(), schema_refresh_seconds=0), store
    finally:
        await store.close()


async def recheck(services: Services, record: DecisionRecord) -> DecisionResult:
    """The decision ``record`` logged, made again on ``services``' store (the brute force)."""
    current = await services.engines.current()
    resource_type, _, resource_id = record.resource.partition(":")
    subject_type, _, subject_id = record.subject.partition(":")
    result = await current.engine.check(
        ObjectRef(resource_type, resource_id),
        record.permission,
        SubjectRef(subject_type, subject_id),
        consistency=FULL,
        context=record.context,
    )
    return DecisionResult.ALLOWED if result.allowed else DecisionResult.DENIED


async def test_what_if_flips_equal_a_brute_force_recheck_and_nothing_changes(
    live: tuple[Services, TupleStore, list[str]], copy: tuple[Services, TupleStore]
) -> None:
    services, store, rels = live
    deleted, touched = proposed_changes(seeded(18), rels)
    changes = "\n".join([*(f"delete {r}" for r in deleted), *(f"touch {r}" for r in touched)]) + "\n"
    before = (
        await everything(store),
        await store.head_revision(),
        (await services.schemas.current()).version,
    )
    records_before = await logged(services)
    assert len(records_before) == 400

    current = await services.engines.current()
    report = await services.what_if.replay(
        current, schema_text=PROPOSED, changes_text=changes, since=timedelta(hours=1)
    )

    # The live store is unchanged, and the replay recorded no decision.
    after = (await everything(store), await store.head_revision(), (await services.schemas.current()).version)
    assert after == before
    await services.decisions.recorder.flush()  # type: ignore[union-attr]
    assert [r.decision_id for r in await logged(services)] == [r.decision_id for r in records_before]

    # The brute force: the change applied to a fresh database, every logged decision checked again.
    fresh, fresh_store = copy
    gone = set(deleted)
    await load(fresh, fresh_store, PROPOSED, [*(r for r in rels if r not in gone), *touched])
    expected: dict[str, tuple[DecisionResult, DecisionResult]] = {}
    for record in records_before:
        assert record.result in {DecisionResult.ALLOWED, DecisionResult.DENIED}  # contexts always given
        new = await recheck(fresh, record)
        if new is not record.result:
            expected[record.decision_id] = (record.result, new)
    found = {f.decision_id: (f.old, f.new) for f in report.flips}
    assert found == expected
    assert report.unreplayable == ()
    assert (report.decisions, report.unchanged) == (400, 400 - len(expected))
    assert report.unique < 400  # repeated checks were decided once
    assert report.revoked  # the dataset moves both ways
    assert report.granted
    assert set(report.subjects_affected) == {f.subject for f in report.flips}


async def test_removable_grants_are_safe_in_a_copy(
    live: tuple[Services, TupleStore, list[str]], copy: tuple[Services, TupleStore]
) -> None:
    services, _, rels = live
    fresh, fresh_store = copy
    current = await services.engines.current()
    records = await logged(services)
    tried = removed = 0
    for agent_id in range(12):
        subject = SubjectRef("agent", f"a{agent_id}")
        report = await services.least_privilege.report(current, subject, timedelta(days=1))
        assert not report.truncated
        used = {
            (r.resource, r.permission) for r in records if r.subject == str(subject) and r.result == "allowed"
        }
        assert report.used == len(used)
        if not report.removable:
            continue
        tried += 1
        removed += len(report.removable)
        # In the copy: the live relationships without the removable grants.
        for resource_type in TYPES:
            await fresh_store.delete_matching(RelationshipFilter(resource_type=resource_type))
        drop = {str(r) for r in report.removable}
        await load(fresh, fresh_store, SCHEMA, [r for r in rels if r not in drop])
        protected = {str(subject), *(str(d) for d in report.delegates)}
        for record in records:
            if record.subject in protected and record.result is DecisionResult.ALLOWED:
                assert await recheck(fresh, record) is DecisionResult.ALLOWED, (record, drop)
        # Least privilege only shrinks: the reach in the copy is within the live reach.
        live_reach = await blast_radius(current.engine, subject, consistency=FULL)
        copy_engine = (await fresh.engines.current()).engine
        copy_reach = await blast_radius(copy_engine, subject, consistency=FULL)

        def reach(result: Any) -> set[tuple[str, str]]:  # every entry is in the raw reach
            return {(str(e.resource), e.permission) for e in result.entries}

        assert reach(copy_reach) <= reach(live_reach)
        assert len(reach(copy_reach)) < len(reach(live_reach))  # and it did shrink
    assert tried >= 3, "the dataset should give several agents removable grants"
    assert removed >= tried
