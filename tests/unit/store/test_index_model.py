"""The packed relationship index against a brute-force model: random histories, every revision.

A history of random touches, creates and deletes (with caveats, expirations, wildcards and
subject sets) is kept as a list of versions, each visible at ``created <= r < deleted``, like the
table's ``created_rev``/``deleted_rev``. The index loads the snapshot at one revision, follows the
change rows after it (in ``changes_stmt`` order) in random batches, and is compacted at random
floors on the way; after every step every revision of its window is read with many filters and
compared with the model, and every revision outside it must be refused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef
from rebac.store._common import LIVE
from rebac.store.base import ANY_RELATION, Operation, RelationshipFilter
from rebac.store.postgres._index import ChangeRow, RelationshipIndex, SnapshotRow

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(minutes=1)
SOON = NOW + timedelta(hours=1)
DOCS = [f"d{i}" for i in range(6)]
SUBJECTS = [
    SubjectRef("user", "u0"),
    SubjectRef("user", "u1"),
    SubjectRef("user", "=ZQ"),
    SubjectRef("user", "*"),
    SubjectRef("team", "t0", "member"),
    SubjectRef("team", "t1", "member"),
    SubjectRef("doc", "d0"),
]


@dataclass
class Version:
    rel: Relationship
    created: int
    deleted: int = LIVE


def random_rel(rng: random.Random) -> Relationship:
    resource = ObjectRef(rng.choice(["doc", "folder"]), rng.choice(DOCS))
    roll = rng.random()
    caveat = CaveatRef("only_on", {"day": rng.randrange(3)}) if roll < 0.15 else None
    expires = rng.choice([PAST, SOON]) if 0.15 <= roll < 0.3 else None
    return Relationship(resource, rng.choice(["viewer", "editor"]), rng.choice(SUBJECTS), caveat, expires)


class Model:
    """Every version ever written; the change rows of each revision."""

    def __init__(self) -> None:
        self.versions: list[Version] = []
        self.changes: list[ChangeRow] = []
        self.head = 0

    def live(self, key: tuple[str, ...]) -> Version | None:
        return next((v for v in self.versions if v.deleted == LIVE and v.rel.key() == key), None)

    def write(self, rng: random.Random) -> None:
        """One revision of a few random touches, creates and deletes (each key once)."""
        self.head += 1
        rev, rows, seen = self.head, [], set()
        for _ in range(rng.randrange(1, 6)):
            rel = random_rel(rng)
            key = rel.key()
            if key in seen:
                continue
            seen.add(key)
            current = self.live(key)
            op = rng.choice([Operation.TOUCH, Operation.TOUCH, Operation.CREATE, Operation.DELETE])
            if op is Operation.CREATE and current is not None and not current.rel.is_expired(NOW):
                continue  # a create of a live key fails; the revision keeps its other updates
            if op is Operation.DELETE and current is None:
                continue
            if current is not None:
                current.deleted = rev
                rows.append(change_row(rev, Operation.DELETE, current.rel))
            if op is not Operation.DELETE:
                self.versions.append(Version(rel, rev))
                rows.append(change_row(rev, Operation.TOUCH, rel))
        # changes_stmt order: revision, key, then TOUCH before DELETE
        rows.sort(key=lambda row: (row[0], row[2:8], row[1] != Operation.TOUCH.value))
        self.changes.extend(rows)

    def select(self, flt: RelationshipFilter, revision: int) -> list[str]:
        visible = [
            v.rel
            for v in self.versions
            if v.created <= revision < v.deleted and not v.rel.is_expired(NOW) and flt.matches(v.rel)
        ]
        return [str(rel) for rel in sorted(visible, key=Relationship.key)]

    def snapshot(self, revision: int) -> list[SnapshotRow]:
        return [snapshot_row(v) for v in self.versions if v.created <= revision < v.deleted]


def change_row(rev: int, op: Operation, rel: Relationship) -> ChangeRow:
    """A change-log row as ``changes_stmt`` returns it."""
    caveat = (rel.caveat.name, rel.caveat.context) if rel.caveat else (None, None)
    return (rev, op.value, *rel.key(), *caveat, rel.expires_at, NOW)


def snapshot_row(version: Version) -> SnapshotRow:
    rel, caveat = version.rel, version.rel.caveat
    return (
        *rel.key(),
        caveat.name if caveat else None,
        caveat.context if caveat else None,
        rel.expires_at,
        version.created,
    )


def filters(rng: random.Random) -> list[RelationshipFilter]:
    """A spread of filter shapes, with some names and ids no row has."""
    docs = tuple(rng.sample([*DOCS, "nope"], 3))
    return [
        RelationshipFilter(resource_type="doc", resource_ids=docs),
        RelationshipFilter(resource_type="folder", resource_ids=(rng.choice(DOCS),), relation="viewer"),
        RelationshipFilter(resource_type="doc", resource_ids=docs, subject_relation=None),
        RelationshipFilter(resource_type="doc", resource_ids=docs, subject_relation="member"),
        RelationshipFilter(resource_type="doc", resource_ids=docs, relation="owner"),
        RelationshipFilter(resource_type="nope", resource_ids=docs),
        RelationshipFilter(subject_type="user", subject_ids=("u0", "u1", "=ZQ", "*")),
        RelationshipFilter(subject_type="user", subject_ids=("u1",), resource_type="doc", relation="editor"),
        RelationshipFilter(subject_type="team", subject_ids=("t0", "t1"), subject_relation="member"),
        RelationshipFilter(subject_type="team", subject_ids=("t0",), subject_relation=None),
        RelationshipFilter(subject_type="doc", subject_ids=("d0",), resource_ids=docs, resource_type="doc"),
        RelationshipFilter(
            resource_type="doc",
            resource_ids=docs,
            subject_type="user",
            subject_ids=("u0", "*", "zz"),
            subject_relation=ANY_RELATION,
        ),
    ]


def assert_window(index: RelationshipIndex, model: Model, rng: random.Random) -> None:
    """Every revision in the window answers like the model; one either side is refused."""
    probe = filters(rng)
    assert index.select(probe[0], index.floor - 1, NOW) is None
    assert index.select(probe[0], index.applied + 1, NOW) is None
    for revision in range(index.floor, index.applied + 1):
        for flt in probe:
            found = index.select(flt, revision, NOW)
            assert found is not None
            assert [str(rel) for rel in found] == model.select(flt, revision), (flt, revision)
            assert [rel.key() for rel in found] == sorted(rel.key() for rel in found)


@pytest.mark.parametrize("seed", range(12))
def test_random_histories_read_like_the_model_at_every_revision(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    model = Model()
    for _ in range(rng.randrange(0, 25)):
        model.write(rng)
    snapshot_at = model.head
    for _ in range(60):
        model.write(rng)
    index = RelationshipIndex()
    index.add_snapshot_rows(model.snapshot(snapshot_at))
    index.finish_load(snapshot_at)
    assert_window(index, model, rng)
    pending = [row for row in model.changes if row[0] > snapshot_at]
    while index.applied < model.head:
        through = min(model.head, index.applied + rng.randrange(1, 8))
        batch = [row for row in pending if index.applied < row[0] <= through]
        index.apply_rows(batch)
        index.advance(through)
        if rng.random() < 0.3:
            floor = rng.randrange(index.floor, index.applied + 1)
            expired = PAST + timedelta(seconds=1) if rng.random() < 0.5 else None
            before = index.rows
            if rng.random() < 0.5:
                index = index.compacted(floor, expired_before=expired)
            else:
                dropped = index.prune(floor, expired_before=expired)
                assert dropped == before - index.rows
            assert index.floor == floor
            assert index.overlay == index.dead  # everything is packed; only deletions stay sparse
        assert_window(index, model, rng)
    assert index.rows == len(index._base) + index._delta_rows


def test_a_compaction_keeps_rows_created_after_its_floor_invisible_below_them() -> None:
    model = Model()
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    index = RelationshipIndex()
    index.finish_load(0)
    for _ in range(30):
        model.write(rng)
    index.apply_rows(model.changes)
    index.advance(model.head)
    packed = index.compacted(0)
    assert packed.overlay == packed.dead
    assert packed.floor == 0
    for revision in range(model.head + 1):
        flt = RelationshipFilter(resource_type="doc", resource_ids=tuple(DOCS))
        assert [str(rel) for rel in packed.select(flt, revision, NOW) or []] == model.select(flt, revision)


def test_rows_with_unknown_names_are_interned_by_the_changes_and_found() -> None:
    index = RelationshipIndex()
    index.finish_load(1)
    rel = Relationship(ObjectRef("tool", "t9"), "invoker", SubjectRef("agent", "a1", "subagents"))
    index.apply_rows([change_row(2, Operation.TOUCH, rel)])
    index.advance(2)
    flt = RelationshipFilter(subject_type="agent", subject_ids=("a1",), subject_relation="subagents")
    assert index.select(flt, 2, NOW) == [rel]
    packed = index.compacted(2)
    assert packed.select(flt, 2, NOW) == [rel]
    assert packed.select(RelationshipFilter(resource_type="tool", resource_ids=("t9",)), 2, NOW) == [rel]
