"""RelationshipIndex: an in-process, multi-version copy of the relationship table.

The Postgres store keeps one per process (see :mod:`rebac.store.postgres._mirror`) so that the reads a
check makes (``query`` by resource ids or by subject ids) need no database round trip.

**What it can answer.** The index holds every row that is live at some revision in
``[floor, applied]``, each visible exactly at the revisions the table's ``created_rev`` and
``deleted_rev`` make it visible. A read *at* revision ``r`` is answered from memory only when
``floor <= r <= applied``; outside that window, or for a filter shape the index has no group for
(no resource ids and no subject ids), :meth:`RelationshipIndex.select` returns ``None`` and the
caller reads the database. So the index can be slow to catch up but never wrong: it never answers
for a revision it has not fully applied.

**How it is laid out.** Two layers:

* the *base*, packed (:mod:`rebac.store.postgres._packed`): a snapshot's rows as 32-bit numbers in
  flat arrays, grouped by resource and by subject; a base row is visible from the floor on unless
  its sparse ``created`` entry says later, and until its sparse ``deleted`` entry, if any;
* the *delta*, a small overlay of the rows the change log created since the base was packed, one
  object a row version (``_Row``) in two hashes, by resource and by subject.

**How it stays current.** :meth:`add_snapshot_rows` (or a :meth:`builder` fed by the COPY loader) and
:meth:`finish_load` install a snapshot taken at one revision; :meth:`apply_rows` then adds the change
log after it (a deletion of a base row is a ``deleted`` entry, a creation a delta row), and
:meth:`advance` moves ``applied`` to the revision a complete batch was read through (only then do
reads at the new revisions come here). :meth:`compacted` packs base and delta into a new base at a
new floor, dropping the versions no read at or above it can see and long-expired rows (the
follower runs it in a thread when the overlay has grown); :meth:`prune` does the same in place.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef
from rebac.store._common import LIVE
from rebac.store.base import Operation, RelationshipFilter
from rebac.store.postgres._packed import PackedBuilder, PackedRows, Vocabulary
from rebac.store.postgres._scan import filter_codes, scan_base

__all__ = ["ChangeRow", "RelationshipIndex", "SnapshotRow"]

_Slot = tuple[str, str]


class _Row:
    """One version of a delta relationship: visible at revisions ``created <= r < deleted``."""

    __slots__ = ("created", "deleted", "rel")

    def __init__(self, rel: Relationship, created: int) -> None:
        self.rel = rel
        self.created = created
        self.deleted = LIVE


Columns = tuple[str, str, str, str, str, str, str | None, dict[str, Any] | None, datetime | None]
"""A relationship's columns: the key, caveat name and context, expiration."""

SnapshotRow = tuple[str, str, str, str, str, str, str | None, dict[str, Any] | None, datetime | None, int]
"""A snapshot row: the key columns, caveat name and context, expiration, created revision."""

ChangeRow = tuple[
    int, str, str, str, str, str, str, str, str | None, dict[str, Any] | None, datetime | None, datetime
]
"""A change-log row: revision, operation, the key columns, caveat, expiration, commit time."""

_TOUCH = Operation.TOUCH.value


def _relationship(columns: Columns) -> Relationship:
    """A relationship from its columns, with interned names."""
    rtype, rid, relation, stype, sid, srel, caveat_name, caveat_context, expires_at = columns
    intern = sys.intern
    subject = SubjectRef(intern(stype), sid, intern(srel) if srel else None)
    caveat = CaveatRef(caveat_name, caveat_context or {}) if caveat_name else None
    return Relationship(ObjectRef(intern(rtype), rid), intern(relation), subject, caveat, expires_at)


class RelationshipIndex:
    """The multi-version relationship index (see the module docstring). Not thread-safe: one loop.

    Args:
        vocab: The interned names and objects to use (a compaction shares its source's).
    """

    __slots__ = (
        "_base",
        "_builder",
        "_by_resource",
        "_by_subject",
        "_delta_dead",
        "_delta_rows",
        "_vocab",
        "applied",
        "floor",
        "loaded",
    )

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self._vocab = vocab if vocab is not None else Vocabulary()
        self._base: PackedRows = PackedBuilder(self._vocab).build()
        self._builder: PackedBuilder | None = None
        self._by_resource: dict[_Slot, list[_Row]] = {}
        self._by_subject: dict[_Slot, list[_Row]] = {}
        self._delta_rows = self._delta_dead = 0
        self.floor = 0
        self.applied = -1
        self.loaded = False

    # --- state -------------------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Row versions held (live and deleted-but-kept)."""
        return len(self._base) + self._delta_rows

    @property
    def dead(self) -> int:
        """Row versions held that are deleted at ``applied`` (kept for reads at older revisions)."""
        return len(self._base.deleted) + self._delta_dead

    @property
    def overlay(self) -> int:
        """Row versions outside the packed base, or deleted in it: what a compaction would pack."""
        return self._delta_rows + len(self._base.deleted)

    @property
    def objects(self) -> int:
        """Distinct objects interned."""
        return len(self._vocab)

    def covers(self, revision: int) -> bool:
        """True when a read at ``revision`` can be answered from memory now."""
        return self.loaded and self.floor <= revision <= self.applied

    def clear(self) -> None:
        """Forget everything; reads go to the database until a new snapshot is loaded."""
        self._adopt(RelationshipIndex())

    def _adopt(self, other: RelationshipIndex) -> None:
        self._vocab, self._base, self._builder = other._vocab, other._base, other._builder
        self._by_resource, self._by_subject = other._by_resource, other._by_subject
        self._delta_rows, self._delta_dead = other._delta_rows, other._delta_dead
        self.floor, self.applied, self.loaded = other.floor, other.applied, other.loaded

    # --- building ----------------------------------------------------------------------------------

    def builder(self) -> PackedBuilder:
        """The builder of the snapshot being loaded (the COPY loader adds text lines to it)."""
        if self._builder is None:
            self._builder = PackedBuilder(self._vocab)
        return self._builder

    def add_snapshot_rows(self, rows: Iterable[SnapshotRow]) -> None:
        """Add rows of a snapshot being loaded (each live at the snapshot revision)."""
        add = self.builder().add
        for columns in rows:
            caveat_name, context, expires_at = columns[6], columns[7], columns[8]
            caveat = CaveatRef(caveat_name, context or {}) if caveat_name else None
            add(columns[:6], caveat, expires_at)

    def finish_load(self, revision: int) -> None:
        """Mark the snapshot of ``revision`` complete: reads at ``revision`` are now answerable."""
        builder, self._builder = self.builder(), None
        self._base = builder.build()
        self.floor = self.applied = revision
        self.loaded = True

    def apply_rows(self, rows: Iterable[ChangeRow]) -> None:
        """Apply change-log rows (changes after ``applied``); :meth:`advance` then publishes them.

        Until then they are invisible: reads are answered only at revisions up to ``applied``, and
        the new versions are created (and the replaced ones deleted) at later revisions. Rows
        are used straight from the database (no ``Change`` objects: a bulk import's revision can
        hold a million). They come in revision, key, operation order (a TOUCH before a DELETE of
        the same key), as ``changes_stmt`` sorts them; a DELETE right after a TOUCH of the same
        key at the same revision is the version that TOUCH replaced, and is skipped (as
        ``collapse`` does).
        """
        touched: tuple[int, tuple[str, ...]] | None = None
        for row in rows:
            rev, op = row[0], row[1]
            rel = _relationship(row[2:11])
            key = rel.key()
            if op != _TOUCH and touched == (rev, key):
                continue
            current = self._live_delta(rel)
            if current is not None:
                current.deleted = rev
                self._delta_dead += 1
            else:
                base_row = self._live_base(key)
                if base_row is not None:
                    self._base.deleted[base_row] = rev
            if op == _TOUCH:
                self._insert(_Row(rel, rev))
                touched = (rev, key)

    def advance(self, through: int) -> None:
        """Every change up to ``through`` is applied: reads at revisions up to it come here."""
        self.applied = max(self.applied, through)

    def _insert(self, row: _Row) -> None:
        rel = row.rel
        resource, subject = rel.resource, rel.subject
        self._by_resource.setdefault((resource.type, resource.id), []).append(row)
        self._by_subject.setdefault((subject.type, subject.id), []).append(row)
        self._delta_rows += 1

    def _live_delta(self, rel: Relationship) -> _Row | None:
        """The live delta row with ``rel``'s key, if any (scans the shorter of its two lists)."""
        resource, subject = rel.resource, rel.subject
        by_resource = self._by_resource.get((resource.type, resource.id), ())
        by_subject = self._by_subject.get((subject.type, subject.id), ())
        candidates = by_resource if len(by_resource) <= len(by_subject) else by_subject
        key = rel.key()
        for row in candidates:
            if row.deleted == LIVE and row.rel.key() == key:
                return row
        return None

    def _live_base(self, key: Sequence[str]) -> int | None:
        """The base row with ``key`` that no change has deleted, if any."""
        vocab = self._vocab
        res, sub = vocab.find(key[0], key[1]), vocab.find(key[3], key[4])
        rel, srel = vocab.codes.get(key[2]), vocab.codes.get(key[5])
        if res is None or sub is None or rel is None or srel is None:
            return None
        return self._base.live(res, rel, sub, srel)

    def prune(self, floor: int, *, expired_before: datetime | None = None) -> int:
        """Compact in place (see :meth:`compacted`); returns how many row versions were dropped."""
        fresh = self.compacted(floor, expired_before=expired_before)
        dropped = self.rows - fresh.rows
        self._adopt(fresh)
        return dropped

    def compacted(self, floor: int, *, expired_before: datetime | None = None) -> RelationshipIndex:
        """A new index with everything packed into its base, answering ``[floor, applied]``.

        Drops the row versions deleted at or before ``floor`` (no read it answers sees them) and
        those expired before ``expired_before``. ``floor`` is kept within ``[self.floor,
        applied]``; reads below it then go to the database. Reads this index, never changes it,
        so it may run in a thread while the loop keeps reading (not while changes are applied);
        the two share the vocabulary, which only grows.
        """
        floor = min(max(floor, self.floor), self.applied)
        base, builder = self._base, PackedBuilder(self._vocab)
        gone = {row for row, rev in base.deleted.items() if rev <= floor}
        if expired_before is not None:
            gone.update(row for row, expiry in base.expires.items() if expiry < expired_before)
        drop = sorted(gone)
        start = 0
        for stop in [*drop, len(base)]:
            if stop > start:
                for source, target in zip(
                    (base.res, base.rel, base.sub, base.srel),
                    (builder.res, builder.rel, builder.sub, builder.srel),
                    strict=True,
                ):
                    target.extend(source[start:stop])
            start = stop + 1
        for row, caveat in base.caveats.items():
            if row not in gone:
                builder.caveats[row - bisect_left(drop, row)] = caveat
        for row, expiry in base.expires.items():
            if row not in gone:
                builder.expires[row - bisect_left(drop, row)] = expiry
        for row, rev in base.created.items():
            if rev > floor and row not in gone:
                builder.created[row - bisect_left(drop, row)] = rev
        for row, rev in base.deleted.items():
            if row not in gone:
                builder.deleted[row - bisect_left(drop, row)] = rev
        for versions in self._by_resource.values():
            for version in versions:
                rel = version.rel
                until = rel.expires_at
                if version.deleted <= floor or (
                    expired_before is not None and until is not None and until < expired_before
                ):
                    continue
                at = builder.add(rel.key(), rel.caveat, until)
                if version.created > floor:
                    builder.created[at] = version.created
                if version.deleted != LIVE:
                    builder.deleted[at] = version.deleted
        fresh = RelationshipIndex(self._vocab)
        fresh._base = builder.build()
        fresh.floor, fresh.applied, fresh.loaded = floor, self.applied, self.loaded
        return fresh

    # --- reading -----------------------------------------------------------------------------------

    def select(self, flt: RelationshipFilter, revision: int, now: datetime) -> list[Relationship] | None:
        """Relationships matching ``flt`` live at ``revision`` and unexpired at ``now``, key order.

        With both resource ids and subject ids, the side with fewer rows is scanned. ``None`` when
        the index cannot answer: ``revision`` outside ``[floor, applied]``, or a filter with
        neither resource ids nor subject ids (no group serves it).
        """
        if not self.covers(revision):
            return None
        vocab, base = self._vocab, self._base
        by_resource = by_subject = None
        if flt.resource_type is not None and flt.resource_ids:
            by_resource = self._side(
                flt.resource_type, flt.resource_ids, self._by_resource, base.resource_count
            )
        if flt.subject_type is not None and flt.subject_ids:
            by_subject = self._side(flt.subject_type, flt.subject_ids, self._by_subject, base.subject_count)
        if by_resource is None and by_subject is None:
            return None
        forward = by_subject is None or (by_resource is not None and by_resource[0] <= by_subject[0])
        side = by_resource if forward else by_subject
        assert side is not None  # noqa: S101 - one of the two is set (checked above)
        _size, objects, delta = side
        found: list[Relationship] = []
        if objects:
            plan = filter_codes(vocab, flt, forward=forward)
            if plan is not None:
                codes, others = plan
                scan_base(
                    base,
                    vocab,
                    objects,
                    forward=forward,
                    codes=codes,
                    others=others,
                    revision=revision,
                    now=now,
                    found=found,
                )
        for versions in delta:
            for version in versions:
                if version.created <= revision < version.deleted:
                    rel = version.rel
                    expiry = rel.expires_at
                    if (expiry is None or expiry > now) and flt.matches(rel):
                        found.append(rel)
        if len(found) > 1:
            found.sort(key=Relationship.key)
        return found

    def _side(
        self, type_: str, ids: Sequence[str], delta: dict[_Slot, list[_Row]], count: Any
    ) -> tuple[int, list[int], list[list[_Row]]]:
        """``(rows, base objects, delta lists)`` of the objects ``type_:ids``."""
        objects: list[int] = []
        lists: list[list[_Row]] = []
        size = 0
        known = self._vocab.objects.get(type_)
        for id_ in dict.fromkeys(ids):
            number = None if known is None else known.get(id_)
            if number is not None:
                objects.append(number)
                size += count(number)
            versions = delta.get((type_, id_))
            if versions:
                lists.append(versions)
                size += len(versions)
        return size, objects, lists
