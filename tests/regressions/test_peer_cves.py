"""Regression tests for the failure classes of peer engines (ANCHORS §5.3, patterns (a)-(f)).

One named test per advisory. Each one uses the advisory's own model where it publishes one (the
SpiceDB ones are also in ``shared/conformance/spicedb/testconfigs``), runs with the check cache ON
where a cache could be the culprit, and asserts the behaviour the buggy engine got wrong:

(a) cache keys missing a semantic input      - caveat context, nested list context, revision
(b) exclusion / intersection / wildcard with arrows and fan-out
(c) lookups disagreeing with check
(d) silent partial success (oversized writes, truncated pages)
(e) cycles: DoS from circular definitions, cached cycle results
(f) expiry not honoured on every path, or outlived in the cache

Stores: every test runs on the memory store; the ones that need no injected clock also run on
PostgreSQL (``integration`` marker). Reads use ``fully_consistent`` so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.config import EngineSettings
from rebac.engine import CheckCache, CheckResult, Engine, Permissionship
from rebac.errors import EvaluationError, LimitExceededError, SchemaError
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
    TupleStore,
    WriteResult,
)

StoreFactory = Callable[..., AbstractAsyncContextManager[TupleStore]]

HAS = Permissionship.HAS_PERMISSION
COND = Permissionship.CONDITIONAL
NO = Permissionship.NO_PERMISSION
FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)
SAFETY_NET_SECONDS = 120.0
"""Wall-clock guard for the cycle tests: a hang fails the test instead of the whole run."""

KINDS = [
    "memory",
    pytest.param("postgres", marks=pytest.mark.integration),
    pytest.param("indexed", marks=pytest.mark.integration),
]


class FakeClock:
    """A settable clock shared by the memory store and the engine (time moves without sleeping)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def write(store: TupleStore, lines: Sequence[str], op: Operation = Operation.TOUCH) -> WriteResult:
    return await store.write([RelationshipUpdate(op, parse_relationship(line)) for line in lines])


def engine_for(store: TupleStore, schema_text: str, *, clock: FakeClock | None = None) -> Engine:
    """An engine with the check cache ON."""
    return Engine.build(store, compile_schema(schema_text, "regression.zed"), cache=CheckCache(), clock=clock)


async def check(
    engine: Engine,
    rel: str,
    context: dict[str, Any] | None = None,
    consistency: Consistency = FRESH,
) -> Permissionship:
    """``resource#permission@subject`` -> permissionship."""
    resource_part, subject_part = rel.split("@")
    resource, permission = resource_part.split("#")
    result: CheckResult = await engine.check(
        parse_object(resource),
        permission,
        parse_subject(subject_part),
        consistency=consistency,
        context=context,
    )
    return result.permissionship


async def lookup_resources(
    engine: Engine, resource_type: str, permission: str, subject: str, context: dict[str, Any] | None = None
) -> dict[str, Permissionship]:
    found: dict[str, Permissionship] = {}
    cursor: str | None = None
    while True:
        page = await engine.lookup_resources(
            resource_type,
            permission,
            parse_subject(subject),
            consistency=FRESH,
            context=context,
            cursor=cursor,
        )
        for item in page.items:
            assert item.resource_id not in found
            found[item.resource_id] = item.permissionship
        if page.cursor is None:
            return found
        cursor = page.cursor


async def lookup_subjects(
    engine: Engine, resource: str, permission: str, subject_type: str, context: dict[str, Any] | None = None
) -> dict[str, tuple[Permissionship, tuple[str, ...]]]:
    """``subject text -> (permissionship, excluded subjects)``."""
    found: dict[str, tuple[Permissionship, tuple[str, ...]]] = {}
    cursor: str | None = None
    while True:
        page = await engine.lookup_subjects(
            parse_object(resource),
            permission,
            subject_type,
            consistency=FRESH,
            context=context,
            cursor=cursor,
        )
        for item in page.items:
            found[str(item.subject)] = (item.permissionship, tuple(sorted(str(s) for s in item.excluded)))
        if page.cursor is None:
            return found
        cursor = page.cursor


async def assert_lookup_parity(
    engine: Engine,
    resource_type: str,
    resource_ids: Sequence[str],
    permission: str,
    *,
    subjects: Sequence[str],
    context: dict[str, Any] | None = None,
) -> None:
    """lookup_resources == {r : check(r) != NO} and lookup_subjects agrees with check per subject."""
    checks: dict[tuple[str, str], Permissionship] = {}
    for subject in subjects:
        for rid in resource_ids:
            checks[rid, subject] = await check(
                engine, f"{resource_type}:{rid}#{permission}@{subject}", context
            )
        found = await lookup_resources(engine, resource_type, permission, subject, context)
        expected = {rid: p for (rid, s), p in checks.items() if s == subject and p is not NO}
        assert found == expected, f"lookup_resources({permission}@{subject}) != check"
    for rid in resource_ids:
        listed = await lookup_subjects(engine, f"{resource_type}:{rid}", permission, "user", context)
        for subject in subjects:
            want = checks[rid, subject]
            got = listed.get(subject, (NO, ()))[0]
            wildcard = listed.get("user:*")
            if subject not in listed and wildcard is not None and subject not in wildcard[1]:
                got = wildcard[0]
            assert got == want, f"lookup_subjects({rid}#{permission}) says {got} for {subject}, check {want}"


# --- (a) cache keys missing a semantic input -------------------------------------------------------

CAVEAT_SCHEMA = """
caveat min_level(level int, required int) {
    level >= required
}

caveat on_list(allowed list<string>, who string) {
    who in allowed
}

definition user {}

definition document {
    relation viewer: user with min_level | user with on_list
    permission view = viewer
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_cache_key_includes_caveat_context_cve_2026_33729(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2026-33729 / CVE-2024-56323 (OpenFGA): conditions + cache returned another context's answer.

    Same check, different caveat contexts, one engine with the cache ON: every answer must be the
    one for its own context, also when the same context comes back after a different one.
    """
    async with store_factory(kind) as store:
        await write(store, ['document:plan#viewer@user:ann[min_level:{"required":3}]'])
        engine = engine_for(store, CAVEAT_SCHEMA)
        rel = "document:plan#view@user:ann"
        assert await check(engine, rel, {"level": 5}) is HAS
        assert await check(engine, rel, {"level": 5}) is HAS
        hits = engine.cache.stats.hits if engine.cache else 0
        assert hits > 0, "the cache must be in play for this regression to mean anything"
        assert await check(engine, rel, {"level": 1}) is NO
        assert await check(engine, rel, {}) is COND
        assert await check(engine, rel, {"level": 5}) is HAS
        assert await check(engine, rel, {"level": 2}) is NO


@pytest.mark.parametrize("kind", KINDS)
async def test_cache_key_includes_list_context_cve_2026_46668(store_factory: StoreFactory, kind: str) -> None:
    """CVE-2026-46668 (SpiceDB): caveat context holding lists was hashed improperly and reused.

    Contexts that differ only inside a list (content, order, nesting) are different cache keys.
    """
    async with store_factory(kind) as store:
        await write(store, ['document:plan#viewer@user:ann[on_list:{"who":"ann"}]'])
        engine = engine_for(store, CAVEAT_SCHEMA)
        rel = "document:plan#view@user:ann"
        assert await check(engine, rel, {"allowed": ["ann", "bob"]}) is HAS
        assert await check(engine, rel, {"allowed": ["bob", "ann"]}) is HAS
        assert await check(engine, rel, {"allowed": ["bob"]}) is NO
        assert await check(engine, rel, {"allowed": ["bob", "anne"]}) is NO
        assert await check(engine, rel, {"allowed": ["ann", "bob"]}) is HAS
        assert await check(engine, rel, {"allowed": []}) is NO


@pytest.mark.parametrize("kind", KINDS)
async def test_cache_key_includes_revision(store_factory: StoreFactory, kind: str) -> None:
    """DESIGN §10 / CVE-2026-55866 class: a cached answer of one revision served at another.

    Write, check (cached), revoke, then check at the new head and at the old snapshot with the
    same engine: each revision gets its own answer.
    """
    async with store_factory(kind) as store:
        schema = (
            "definition user {}\ndefinition document {\n relation viewer: user\n permission view = viewer\n}"
        )
        first = await write(store, ["document:plan#viewer@user:ann"])
        engine = engine_for(store, schema)
        rel = "document:plan#view@user:ann"
        at_first = Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, first.token)
        assert await check(engine, rel, consistency=at_first) is HAS
        assert await check(engine, rel) is HAS
        second = await write(store, ["document:plan#viewer@user:ann"], Operation.DELETE)
        at_second = Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, second.token)
        assert await check(engine, rel) is NO
        assert await check(engine, rel, consistency=at_second) is NO
        assert await check(engine, rel, consistency=at_first) is HAS
        assert (
            await check(engine, rel, consistency=Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, second.token))
            is NO
        )


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_lookup_and_check_never_grant_unconditionally_cve_2026_55866(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2026-55866 (SpiceDB): a dispatch cache key omitted CheckHints, so a LookupResources running
    next to a Check made the check grant unconditional permission.

    Lookups and checks with different contexts run interleaved on one cached engine; every check
    must still give its own context's answer (conditional without context, denied with a bad one).
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [f'document:d{i}#viewer@user:ann[min_level:{{"required":{i}}}]' for i in range(6)],
        )
        engine = engine_for(store, CAVEAT_SCHEMA)

        async def one_round() -> list[Any]:
            return list(
                await asyncio.gather(
                    lookup_resources(engine, "document", "view", "user:ann", {"level": 9}),
                    check(engine, "document:d5#view@user:ann"),
                    check(engine, "document:d5#view@user:ann", {"level": 1}),
                    lookup_resources(engine, "document", "view", "user:ann"),
                    check(engine, "document:d5#view@user:ann", {"level": 9}),
                )
            )

        for _ in range(3):
            full, bare, low, conditional, high = await one_round()
            assert full == {f"d{i}": HAS for i in range(6)}
            assert bare is COND
            assert low is NO
            assert conditional == {f"d{i}": COND for i in range(6)}
            assert high is HAS


# --- (b) exclusion, intersection, wildcard with arrows and fan-out ----------------------------------

ARROW_OVER_MULTI_EXCLUSION = """
definition user {}

definition group {
    relation direct_member: user
    relation excluded: user:*
    permission view = direct_member - excluded
}

definition resource {
    relation group: group
    permission view = group->view
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_exclusion_under_multi_resource_arrow_cve_2024_38361(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2024-38361 / GHSA-grjv-gjgr-66g2 (SpiceDB): an exclusion under an arrow over several
    resources gave NO_PERMISSION wrongly. Model: ``arrowovermultiexclusion.yaml``.

    fred is excluded (by wildcard) in group1 but a plain member of group2, so resource:one grants.
    The group1 answer is computed (and cached) first, then the resource is asked.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "resource:one#group@group:group1",
                "resource:one#group@group:group2",
                "group:group1#direct_member@user:fred",
                "group:group1#excluded@user:*",
                "group:group2#direct_member@user:fred",
            ],
        )
        engine = engine_for(store, ARROW_OVER_MULTI_EXCLUSION)
        assert await check(engine, "group:group1#view@user:fred") is NO
        assert await check(engine, "group:group2#view@user:fred") is HAS
        assert await check(engine, "resource:one#view@user:fred") is HAS
        assert await lookup_resources(engine, "resource", "view", "user:fred") == {"one": HAS}
        assert (await lookup_subjects(engine, "resource:one", "view", "user"))["user:fred"][0] is HAS
        await assert_lookup_parity(engine, "resource", ["one"], "view", subjects=["user:fred", "user:other"])


MULTI_BRANCH_CAVEAT_ARROWS = """
definition user {}

definition office {
    relation parent: office
    relation manager: user
    permission read = manager + parent->read
}

definition group {
    relation parent: office
    permission read = parent->read
}

definition document {
    relation owner: group with equals
    permission read = owner->read
}

caveat equals(actual string, required string) {
    actual == required
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_caveated_arrow_with_several_caveated_branches_cve_2025_49011(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2025-49011 / GHSA-cwwm-hr97-qfxm (SpiceDB): a caveat on an arrowed relation with several
    caveated branches gave a false deny. Exact schema and data from the advisory.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "office:headoffice#manager@user:maria",
                "office:branch1#parent@office:headoffice",
                "group:admins#parent@office:branch1",
                "group:managers#parent@office:headoffice",
                'document:budget#owner@group:admins[equals:{"required":"admin"}]',
                'document:budget#owner@group:managers[equals:{"required":"manager"}]',
            ],
        )
        engine = engine_for(store, MULTI_BRANCH_CAVEAT_ARROWS)
        rel = "document:budget#read@user:maria"
        assert await check(engine, rel, {"actual": "admin"}) is HAS
        assert await check(engine, rel, {"actual": "manager"}) is HAS
        assert await check(engine, rel, {"actual": "unknown"}) is NO
        assert await check(engine, rel) is COND
        assert await lookup_resources(engine, "document", "read", "user:maria", {"actual": "manager"}) == {
            "budget": HAS
        }
        assert await lookup_resources(engine, "document", "read", "user:maria", {"actual": "x"}) == {}
        assert await lookup_resources(engine, "document", "read", "user:maria") == {"budget": COND}


BUT_NOT_FROM_USERSET = """
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation viewer: user | group#member
}

definition document {
    relation parent: folder
    relation blocked: user | group#member
    permission view = parent->viewer - blocked
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_but_not_with_from_and_userset_cve_2024_42473(store_factory: StoreFactory, kind: str) -> None:
    """CVE-2024-42473 / GHSA-3f6g-m4hr-59h8 (OpenFGA): ``but not`` + ``from`` + a userset gave
    ``allowed=true`` wrongly. The advisory names the shape, not a model; this is that shape in
    SpiceDB terms (``viewer from parent but not blocked``, both sides reached through usersets).
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "document:doc#parent@folder:shared",
                "folder:shared#viewer@group:staff#member",
                "group:staff#member@user:anne",
                "group:staff#member@group:contractors#member",
                "group:contractors#member@user:bob",
                "document:doc#blocked@group:suspended#member",
                "group:suspended#member@user:bob",
            ],
        )
        engine = engine_for(store, BUT_NOT_FROM_USERSET)
        assert await check(engine, "folder:shared#viewer@user:bob") is HAS
        assert await check(engine, "document:doc#view@user:bob") is NO
        assert await check(engine, "document:doc#view@user:anne") is HAS
        assert await check(engine, "document:doc#view@user:carl") is NO
        await assert_lookup_parity(
            engine, "document", ["doc"], "view", subjects=["user:anne", "user:bob", "user:carl"]
        )


# --- (c) lookups disagreeing with check -----------------------------------------------------------

WILDCARD_EXCLUSION_INTERSECTION = """
definition user {}

definition resource {
    relation viewer: user | user:*
    relation banned: user | user:*
    relation member: user | user:*
    permission view = viewer - banned
    permission both = viewer & member
    permission nested = viewer - (banned & member)
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_wildcard_under_exclusion_and_intersection_lookup_parity_cve_2022_21646(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2022-21646 (SpiceDB): a wildcard on the right of an exclusion or inside an intersection
    was ignored by Lookup, so resources were wrongly listed as accessible.

    Lookups must agree with check for every subject, including one mentioned nowhere.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "resource:r1#viewer@user:*",
                "resource:r1#banned@user:mallory",
                "resource:r2#viewer@user:alice",
                "resource:r2#banned@user:*",
                "resource:r3#viewer@user:*",
                "resource:r3#member@user:bob",
                "resource:r4#viewer@user:alice",
                "resource:r4#member@user:*",
                "resource:r5#viewer@user:*",
                "resource:r5#banned@user:*",
                "resource:r5#member@user:bob",
            ],
        )
        engine = engine_for(store, WILDCARD_EXCLUSION_INTERSECTION)
        assert await lookup_resources(engine, "resource", "view", "user:alice") == {
            "r1": HAS,
            "r3": HAS,
            "r4": HAS,
        }
        assert await lookup_resources(engine, "resource", "view", "user:mallory") == {"r3": HAS}
        assert await lookup_resources(engine, "resource", "both", "user:bob") == {"r3": HAS, "r5": HAS}
        assert await lookup_resources(engine, "resource", "both", "user:alice") == {"r4": HAS}
        assert await lookup_resources(engine, "resource", "nested", "user:bob") == {"r1": HAS, "r3": HAS}
        assert await lookup_resources(engine, "resource", "nested", "user:zed") == {
            "r1": HAS,
            "r3": HAS,
            "r5": HAS,
        }
        r1 = await lookup_subjects(engine, "resource:r1", "view", "user")
        assert r1.get("user:*") == (HAS, ("user:mallory",))
        assert "user:mallory" not in r1
        assert await lookup_subjects(engine, "resource:r2", "view", "user") == {}
        subjects = ["user:alice", "user:bob", "user:mallory", "user:zed"]
        for permission in ("view", "both", "nested"):
            await assert_lookup_parity(
                engine, "resource", ["r1", "r2", "r3", "r4", "r5"], permission, subjects=subjects
            )


ARROW_OVER_SAME_TYPE = """
definition user {}

definition folder {
    relation parent: folder
    relation viewer: user
    permission view = viewer
}

definition document {
    relation folder: folder#parent | folder
    permission view = folder->view
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_lookup_subjects_same_type_twice_in_relation_cve_2024_32001(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2024-32001 (SpiceDB): ``relation folder: folder | folder#parent`` walked by an arrow made
    LookupSubjects return a partial answer. Model: ``arrowoversametype.yaml``.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "document:firstdoc#folder@folder:folder1",
                "document:firstdoc#folder@folder:folder2#parent",
                "folder:folder1#viewer@user:tom",
                "folder:folder2#viewer@user:fred",
            ],
        )
        engine = engine_for(store, ARROW_OVER_SAME_TYPE)
        assert await check(engine, "document:firstdoc#view@user:tom") is HAS
        assert await check(engine, "document:firstdoc#view@user:fred") is HAS
        listed = await lookup_subjects(engine, "document:firstdoc", "view", "user")
        assert listed == {"user:fred": (HAS, ()), "user:tom": (HAS, ())}
        assert await lookup_resources(engine, "document", "view", "user:fred") == {"firstdoc": HAS}
        await assert_lookup_parity(
            engine, "document", ["firstdoc"], "view", subjects=["user:tom", "user:fred", "user:x"]
        )


ENTRYPOINTS = """
definition user {}

definition team {
    relation member: user | team#member
}

definition org {
    relation admin: user | team#member
    permission manage = admin
}

definition project {
    relation org: org
    relation contributor: user | team#member
    relation reader: user:*
    permission edit = contributor + org->manage
    permission view = edit + reader
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_lookup_resources_complete_across_entrypoints_go_2025_4151(
    store_factory: StoreFactory, kind: str
) -> None:
    """GO-2025-4151 and CVE-2023-35930 (SpiceDB): LookupResources with several entrypoints across
    definitions returned an incomplete set; lookups must be both sound and complete vs. check.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "project:p_direct#contributor@user:ann",
                "project:p_team#contributor@team:core#member",
                "team:core#member@team:inner#member",
                "team:inner#member@user:ann",
                "project:p_org#org@org:acme",
                "org:acme#admin@team:core#member",
                "project:p_org2#org@org:beta",
                "org:beta#admin@user:ann",
                "project:p_public#reader@user:*",
                "project:p_none#contributor@user:bob",
            ],
        )
        engine = engine_for(store, ENTRYPOINTS)
        want_edit = {"p_direct": HAS, "p_team": HAS, "p_org": HAS, "p_org2": HAS}
        assert await lookup_resources(engine, "project", "edit", "user:ann") == want_edit
        assert await lookup_resources(engine, "project", "view", "user:ann") == {**want_edit, "p_public": HAS}
        ids = ["p_direct", "p_team", "p_org", "p_org2", "p_public", "p_none"]
        for permission in ("edit", "view"):
            await assert_lookup_parity(
                engine, "project", ids, permission, subjects=["user:ann", "user:bob", "user:eve"]
            )


# --- (d) silent partial success -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_oversized_write_never_acks_partially_cve_2025_64529(
    store_factory: StoreFactory, kind: str
) -> None:
    """CVE-2025-64529 (SpiceDB): an oversized WriteRelationships reported success but failed (with
    exclusion schemas), leading to wrong checks. A write over the limit must fail as a whole and
    leave nothing behind; a write exactly at the limit must land as a whole.
    """
    limit = 5
    schema = WILDCARD_EXCLUSION_INTERSECTION
    async with store_factory(kind, max_updates_per_write=limit) as store:
        engine = engine_for(store, schema)
        head = await store.head_revision()
        over = [f"resource:x{i}#banned@user:eve" for i in range(limit)] + ["resource:x0#viewer@user:*"]
        with pytest.raises(LimitExceededError):
            await write(store, over)
        assert await store.head_revision() == head
        revision = await store.resolve(FRESH)
        left = [r async for r in store.query(RelationshipFilter(resource_type="resource"), revision=revision)]
        assert left == []
        assert await check(engine, "resource:x0#view@user:eve") is NO
        exact = ["resource:x0#viewer@user:*"] + [f"resource:x{i}#banned@user:eve" for i in range(limit - 1)]
        done = await write(store, exact)
        assert done.revision > head
        revision = await store.resolve(FRESH)
        stored = [
            r async for r in store.query(RelationshipFilter(resource_type="resource"), revision=revision)
        ]
        assert len(stored) == limit
        assert await check(engine, "resource:x0#view@user:eve") is NO
        assert await check(engine, "resource:x0#view@user:ann") is HAS


@pytest.mark.parametrize("kind", KINDS)
async def test_lookup_pages_are_never_truncated_silently(store_factory: StoreFactory, kind: str) -> None:
    """Pattern (d): list truncation / pagination. Every page of a lookup respects its limit, pages
    never repeat an item, and together they are exactly the unpaged answer.
    """
    async with store_factory(kind) as store:
        schema = (
            "definition user {}\n"
            "definition document {\n relation viewer: user | user:*\n permission view = viewer\n}"
        )
        await write(
            store, [f"document:d{i:02}#viewer@user:ann" for i in range(23)] + ["document:pub#viewer@user:*"]
        )
        await write(store, [f"document:e{i:02}#viewer@user:u{i:02}" for i in range(9)])
        engine = engine_for(store, schema)
        everything = await engine.lookup_resources(
            "document", "view", parse_subject("user:ann"), consistency=FRESH
        )
        assert everything.cursor is None
        assert len(everything.items) == 24
        for limit in (1, 5, 7, 24, 25):
            seen: list[str] = []
            cursor: str | None = None
            while True:
                page = await engine.lookup_resources(
                    "document",
                    "view",
                    parse_subject("user:ann"),
                    consistency=FRESH,
                    limit=limit,
                    cursor=cursor,
                )
                assert len(page.items) <= limit
                seen.extend(item.resource_id for item in page.items)
                if page.cursor is None:
                    break
                cursor = page.cursor
            assert len(seen) == len(set(seen)), f"limit {limit}: an item was repeated"
            assert sorted(seen) == sorted(i.resource_id for i in everything.items), f"limit {limit}"
        subjects_all = await engine.lookup_subjects(
            parse_object("document:e00"), "view", "user", consistency=FRESH
        )
        assert [str(i.subject) for i in subjects_all.items] == ["user:u00"]
        for limit in (1, 2):
            got: list[str] = []
            cursor = None
            while True:
                spage = await engine.lookup_subjects(
                    parse_object("document:pub"),
                    "view",
                    "user",
                    consistency=FRESH,
                    limit=limit,
                    cursor=cursor,
                )
                assert len(spage.items) <= limit
                got.extend(str(i.subject) for i in spage.items)
                if spage.cursor is None:
                    break
                cursor = spage.cursor
            assert got == ["user:*"]


# --- (e) cycles -----------------------------------------------------------------------------------

CIRCULAR_PERMISSIONS = """
definition user {}

definition group {
    relation direct_a: user | group#member_b
    relation direct_b: user | group#member_c
    relation direct_c: user | group#member_d
    relation direct_d: user | group#member_e
    relation direct_e: user | group#member_a
    permission member_a = direct_a + member_b + member_c
    permission member_b = direct_b + member_c + member_d
    permission member_c = direct_c + member_d + member_e
    permission member_d = direct_d + member_e + member_a
    permission member_e = direct_e + member_a + member_b
}
"""

CIRCULAR_RELATIONS = """
definition user {}

definition group {
    relation member_a: user | group#member_b | group#member_c
    relation member_b: user | group#member_c | group#member_d
    relation member_c: user | group#member_d | group#member_e
    relation member_d: user | group#member_e | group#member_a
    relation member_e: user | group#member_a | group#member_b
}
"""

LETTERS = "abcde"


def _circular_data(schema: str) -> list[str]:
    """Six groups; every member_X of every group points at two other letters of the next group."""
    rels = []
    for g in range(6):
        for i, letter in enumerate(LETTERS):
            for step in (1, 2):
                other = LETTERS[(i + step) % 5]
                if schema is CIRCULAR_PERMISSIONS:
                    if step == 1:
                        rels.append(f"group:g{g}#direct_{letter}@group:g{(g + 1) % 6}#member_{other}")
                else:
                    rels.append(f"group:g{g}#member_{letter}@group:g{(g + step) % 6}#member_{other}")
    direct = "direct_c" if schema is CIRCULAR_PERMISSIONS else "member_c"
    return [*rels, f"group:g4#{direct}@user:carol"]


async def _bounded(awaitable: Any) -> Any:
    """Await with a generous safety net; a hang fails instead of wedging the suite."""
    return await asyncio.wait_for(awaitable, timeout=SAFETY_NET_SECONDS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "schema", [CIRCULAR_RELATIONS, CIRCULAR_PERMISSIONS], ids=["relations", "permissions"]
)
async def test_circular_definitions_terminate_bounded_cve_2023_35933(
    store_factory: StoreFactory, kind: str, schema: str
) -> None:
    """CVE-2023-35933 / CVE-2023-43645 / GHSA-2hm9-h873-pgqh (OpenFGA): mutually recursive
    memberA..E relations caused a DoS. Either the model is rejected at compile time (permission
    variant only), or every check ends with a decision or a typed EvaluationError, within bounded
    memory; no subject is ever granted through the cycles alone, and the one real member is found.
    """
    try:
        compile_schema(schema, "circular.zed")
    except SchemaError:
        assert schema is CIRCULAR_PERMISSIONS, "the relation-only model is valid SpiceDB"
        return  # rejecting the model is an accepted outcome (OpenFGA's own fix validates models)
    async with store_factory(kind) as store:
        await write(store, _circular_data(schema))
        # A short per-request deadline keeps the suite quick; it is the engine's own budget
        # (exhausting it is a typed, fail-closed error), not an assertion about speed.
        settings = EngineSettings(request_deadline_seconds=1.0)
        engine = Engine.build(
            store, compile_schema(schema, "circular.zed"), settings=settings, cache=CheckCache()
        )
        probes = [
            "group:g0#member_a@user:nobody",
            "group:g3#member_d@user:nobody",
            "group:g0#member_a@user:carol",
            "group:g2#member_e@user:carol",
            "group:g4#member_c@user:carol",
        ]
        tracemalloc.start()
        try:
            outcome: dict[str, Permissionship | str] = {}
            for rel in probes:
                try:
                    outcome[rel] = await _bounded(check(engine, rel))
                except EvaluationError as exc:
                    outcome[rel] = type(exc).__name__
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 256 * 1024 * 1024, f"peak traced memory {peak} bytes"
        for rel, got in outcome.items():
            assert got is not HAS or rel.endswith("carol"), f"{rel} granted through a cycle alone"
            assert got in (HAS, NO) or got in _TYPED_EVALUATION_ERRORS, f"{rel}: {got}"
        assert outcome["group:g4#member_c@user:carol"] is HAS
        assert await _bounded(lookup_resources(engine, "group", "member_a", "user:nobody")) == {}


_TYPED_EVALUATION_ERRORS = ("MaxDepthExceededError", "DeadlineExceededError", "BudgetExceededError")


SMALL_CYCLES = """
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation viewer: user
    permission view = parent->view + viewer
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_small_data_cycle_is_decided_not_depth_exhausted_cve_2023_35933(
    store_factory: StoreFactory, kind: str
) -> None:
    """Pattern (e), CVE-2023-35933 class, found by the oracle: four objects that all point at each
    other (through a subject set, and through an arrow) are a cycle of four nodes; it must be cut
    and answered (NO for a stranger, YES for the one real member), not run the depth budget out.
    A real grant must never turn into an error because a sibling branch is cyclic.
    """
    ids = "abcd"
    async with store_factory(kind) as store:
        await write(
            store,
            [f"group:{x}#member@group:{y}#member" for x in ids for y in ids if x != y]
            + [f"folder:{x}#parent@folder:{y}" for x in ids for y in ids if x != y]
            + ["group:d#member@user:ann", "folder:d#viewer@user:ann"],
        )
        engine = engine_for(store, SMALL_CYCLES)
        for x in ids:
            assert await _bounded(check(engine, f"group:{x}#member@user:ann")) is HAS
            assert await _bounded(check(engine, f"group:{x}#member@user:eve")) is NO
            assert await _bounded(check(engine, f"folder:{x}#view@user:ann")) is HAS
            assert await _bounded(check(engine, f"folder:{x}#view@user:eve")) is NO


CYCLE_CACHE = """
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation viewer: user
    permission view = parent->view + viewer
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_cycle_result_is_never_cached_cve_2025_46331(store_factory: StoreFactory, kind: str) -> None:
    """CVE-2025-46331 / GHSA-w222-m46c-mgh6 (OpenFGA): a cycle result was cached, leading to a bypass
    (or here, a false deny). While checking A, the sub-problem B is cut at the cycle back to A, so
    B's answer *inside that evaluation* is incomplete; it must not be served to a later check of B.
    """
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "group:a#member@user:x",
                "group:a#member@group:b#member",
                "group:b#member@group:a#member",
                "folder:f1#parent@folder:f2",
                "folder:f2#parent@folder:f1",
                "folder:f1#viewer@user:x",
            ],
        )
        engine = engine_for(store, CYCLE_CACHE)
        assert await _bounded(check(engine, "group:a#member@user:x")) is HAS
        assert await _bounded(check(engine, "group:b#member@user:x")) is HAS
        assert await _bounded(check(engine, "group:b#member@user:y")) is NO
        assert await _bounded(check(engine, "folder:f1#view@user:x")) is HAS
        assert await _bounded(check(engine, "folder:f2#view@user:x")) is HAS
        assert await _bounded(check(engine, "folder:f2#view@user:y")) is NO
        assert await _bounded(lookup_resources(engine, "folder", "view", "user:x")) == {"f1": HAS, "f2": HAS}
        assert await _bounded(lookup_resources(engine, "group", "member", "user:x")) == {"a": HAS, "b": HAS}


# --- (f) expiry on every path and in the cache ----------------------------------------------------

EXPIRY_SIBLINGS = """
use expiration

definition user {}

definition group {
    relation member: user with expiration | group#member with expiration | user
}

definition document {
    relation viewer: group#member | user with expiration
    permission view = viewer
}
"""


@pytest.mark.parametrize("kind", KINDS)
async def test_expired_relationship_never_grants_via_sibling_ghsa_w278_32qg_48q5(
    store_factory: StoreFactory, kind: str
) -> None:
    """GHSA-w278-32qg-48q5 (SpiceDB v1.57.1): an expired relationship still granted through
    non-terminal siblings. Here alice's membership expired long ago while her group stays linked
    to the document through a live sibling path (bob's); checks and lookups, cached or not, deny.
    """
    past = "2001-01-01T00:00:00Z"
    async with store_factory(kind) as store:
        await write(
            store,
            [
                "document:doc#viewer@group:eng#member",
                f"group:eng#member@user:alice[expiration:{past}]",
                "group:eng#member@group:core#member[expiration:2999-01-01T00:00:00Z]",
                "group:core#member@user:bob",
                f"group:core#member@group:old#member[expiration:{past}]",
                "group:old#member@user:carol",
                f"document:doc#viewer@user:dave[expiration:{past}]",
            ],
        )
        engine = engine_for(store, EXPIRY_SIBLINGS)
        for _ in range(2):  # the second round is served from the cache
            assert await check(engine, "document:doc#view@user:bob") is HAS
            assert await check(engine, "document:doc#view@user:alice") is NO
            assert await check(engine, "document:doc#view@user:carol") is NO
            assert await check(engine, "document:doc#view@user:dave") is NO
            assert await check(engine, "group:eng#member@user:alice") is NO
        assert await lookup_resources(engine, "document", "view", "user:alice") == {}
        assert await lookup_resources(engine, "document", "view", "user:carol") == {}
        assert await lookup_subjects(engine, "document:doc", "view", "user") == {"user:bob": (HAS, ())}


async def test_expiry_is_honoured_by_the_cache_after_time_passes(store_factory: StoreFactory) -> None:
    """GHSA-w278-32qg-48q5 (second half: "cache TTL extended on read"). A grant checked (and cached)
    while live, and checked again and again, must stop the moment its relationship expires, on the
    direct path and through a group; time is moved with an injected clock, never slept.
    """
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    expiry = clock.now + timedelta(minutes=10)
    stamp = expiry.isoformat().replace("+00:00", "Z")
    async with store_factory("memory", quantization_seconds=0, clock=clock) as store:
        await write(
            store,
            [
                "document:doc#viewer@group:eng#member",
                f"group:eng#member@user:alice[expiration:{stamp}]",
                "group:eng#member@user:bob",
                f"document:doc#viewer@user:dave[expiration:{stamp}]",
            ],
        )
        engine = engine_for(store, EXPIRY_SIBLINGS, clock=clock)
        for minute in range(0, 10, 3):
            clock.now = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
            assert await check(engine, "document:doc#view@user:alice") is HAS
            assert await check(engine, "document:doc#view@user:dave") is HAS
        hits = engine.cache.stats.hits if engine.cache else 0
        assert hits > 0, "the cache must be in play for this regression to mean anything"
        clock.now = expiry
        assert await check(engine, "document:doc#view@user:alice") is NO
        assert await check(engine, "document:doc#view@user:dave") is NO
        assert await check(engine, "group:eng#member@user:alice") is NO
        assert await check(engine, "document:doc#view@user:bob") is HAS
        assert await lookup_resources(engine, "document", "view", "user:alice") == {}
        assert await lookup_subjects(engine, "document:doc", "view", "user") == {"user:bob": (HAS, ())}
