# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Cross-API consistency on every testconfigs file: check, lookups and expand must agree.

For every (resource, permission, subject) the file can form — resources and subjects are all the
objects its relationships and assertions name, plus the subject sets its relationships use — the
answer of ``check`` must equal what ``lookup_resources`` (page sizes 1, 2 and unlimited, following
cursors), ``lookup_subjects`` (including a wildcard's exclusions and a never-seen subject) and, for
files without caveats, an evaluation of the ``expand`` tree give.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from conformance_corpus import corpus_files

from rebac.engine import CheckCache, Engine, ExpandKind, ExpandNode, Permissionship
from rebac.engine.model import reachability_for
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import FileReport, load_into
from rebac.store.memory import MemoryTupleStore

pytestmark = pytest.mark.conformance

FILES = corpus_files()
NO = Permissionship.NO_PERMISSION
FRESH_ID = "never-seen-subject"


class Universe:
    def __init__(self, vf, schema):
        self.objects: dict[str, set[str]] = defaultdict(set)
        self.usersets: set[SubjectRef] = set()
        for item in vf.relationships:
            rel = item.relationship
            self.objects[rel.resource.type].add(rel.resource.id)
            if not rel.subject.is_wildcard:
                self.objects[rel.subject.type].add(rel.subject.id)
            if rel.subject.relation is not None:
                self.usersets.add(rel.subject)
        for assertion in vf.assertions:
            if schema.definition(assertion.resource.type) is not None:
                self.objects[assertion.resource.type].add(assertion.resource.id)
            if schema.definition(assertion.subject.type) is not None and assertion.subject.relation is None:
                self.objects[assertion.subject.type].add(assertion.subject.id)
        self.schema = schema

    def members(self, type_name):
        definition = self.schema.definition(type_name)
        return sorted({*definition.relations, *definition.permissions})

    def subjects(self):
        plain = [SubjectRef(t, i) for t, ids in self.objects.items() for i in ids]
        return sorted(plain) + sorted(self.usersets)


async def _loaded(path: Path, cached: bool):
    vf = load_validation_file(path)
    store = MemoryTupleStore(quantization_seconds=0)
    report = FileReport(vf.source)
    loaded = await load_into(vf, store, report)
    assert loaded is not None, report.failures
    engine = Engine.build(
        store,
        loaded.schema,
        reachability=reachability_for(loaded.schema),
        cache=CheckCache() if cached else None,
    )
    return vf, loaded.schema, engine


async def _all_resources(engine, resource_type, permission, subject, limit):
    found = {}
    cursor = None
    pages = 0
    while True:
        page = await engine.lookup_resources(resource_type, permission, subject, limit=limit, cursor=cursor)
        pages += 1
        assert pages < 10_000
        if limit is not None:
            assert len(page.items) <= limit
        for item in page.items:
            assert item.resource_id not in found, "a resource was returned twice across pages"
            found[item.resource_id] = item.permissionship
        if page.cursor is None:
            return found
        cursor = page.cursor


class ExpandOracle:
    """Evaluates expand trees for one subject, following subject sets recursively."""

    def __init__(self, engine):
        self.engine = engine
        self.trees: dict[tuple[ObjectRef, str], ExpandNode] = {}

    async def tree(self, resource, relation):
        key = (resource, relation)
        if key not in self.trees:
            self.trees[key] = await self.engine.expand(resource, relation)
        return self.trees[key]

    async def holds(self, resource, relation, subject, visiting=frozenset()):
        if subject.relation == relation and subject.object == resource:
            return True
        key = (resource, relation)
        if key in visiting:
            return False
        return await self._node(await self.tree(resource, relation), subject, visiting | {key})

    async def _node(self, node, subject, visiting):
        if subject.relation == node.relation and subject.object == node.resource:
            return True
        if node.kind is ExpandKind.LEAF:
            for item in node.subjects:
                s = item.subject
                if s == subject:
                    return True
                if s.is_wildcard and subject.relation is None and s.type == subject.type:
                    return True
                if s.relation is not None and await self.holds(s.object, s.relation, subject, visiting):
                    return True
            return False
        results = [await self._node(child, subject, visiting) for child in node.children]
        if node.kind is ExpandKind.UNION:
            return any(results)
        if node.kind is ExpandKind.INTERSECTION:
            return bool(results) and all(results)
        return results[0] and not any(results[1:])


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "nocache"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_check_lookups_and_expand_agree(path: Path, cached: bool):
    vf, schema, engine = await _loaded(path, cached)
    universe = Universe(vf, schema)
    subjects = universe.subjects()
    caveated = bool(schema.caveats)
    oracle = ExpandOracle(engine)
    for resource_type in sorted(universe.objects):
        if schema.definition(resource_type) is None:
            continue
        for permission in universe.members(resource_type):
            answers: dict[tuple[str, SubjectRef], Permissionship] = {}
            for rid in sorted(universe.objects[resource_type]):
                for subject in subjects:
                    result = await engine.check(ObjectRef(resource_type, rid), permission, subject)
                    answers[rid, subject] = result.permissionship
                    if not caveated:
                        via_expand = await oracle.holds(ObjectRef(resource_type, rid), permission, subject)
                        assert via_expand == (result.permissionship is not NO), (
                            f"expand disagrees with check for {resource_type}:{rid}#{permission}@{subject}"
                        )
            for subject in subjects:
                expected = {
                    rid: answers[rid, subject]
                    for rid in universe.objects[resource_type]
                    if answers[rid, subject] is not NO
                }
                for limit in (1, 2, None):
                    found = await _all_resources(engine, resource_type, permission, subject, limit)
                    assert found == expected, (
                        f"lookup_resources({resource_type}#{permission}@{subject}, limit={limit})"
                    )
            await _check_lookup_subjects(
                engine, universe, resource_type, permission, subjects=subjects, answers=answers
            )


async def _check_lookup_subjects(engine, universe, resource_type, permission, *, subjects, answers):
    by_kind: dict[tuple[str, str | None], list[SubjectRef]] = defaultdict(list)
    for subject in subjects:
        by_kind[subject.type, subject.relation].append(subject)
    for rid in sorted(universe.objects[resource_type]):
        resource = ObjectRef(resource_type, rid)
        for (subject_type, subject_relation), candidates in sorted(
            by_kind.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        ):
            page = await engine.lookup_subjects(resource, permission, subject_type, subject_relation)
            assert page.cursor is None
            concrete = {i.subject: i.permissionship for i in page.items if not i.subject.is_wildcard}
            wildcards = [i for i in page.items if i.subject.is_wildcard]
            excluded = set(wildcards[0].excluded) if wildcards else set()
            for subject in candidates:
                got = answers[rid, subject]
                listed = subject in concrete or (bool(wildcards) and subject not in excluded)
                assert listed == (got is not NO), f"lookup_subjects({resource}#{permission}) vs {subject}"
                if subject in concrete:
                    assert concrete[subject] == got
            if subject_relation is None:
                fresh = await engine.check(resource, permission, SubjectRef(subject_type, FRESH_ID))
                assert (fresh.permissionship is not NO) == bool(wildcards), (
                    f"wildcard of lookup_subjects({resource}#{permission}, {subject_type})"
                )
