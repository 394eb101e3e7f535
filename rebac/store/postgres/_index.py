"""RelationshipIndex: an in-process, multi-version copy of the relationship table.

The Postgres store keeps one per process (see :mod:`rebac.store.postgres._mirror`) so that the reads a
check makes (``query`` by resource ids or by subject ids) need no database round trip.

**What it can answer.** The index holds every row that is live at some revision in
``[floor, applied]``, each with the revision that created it and the one that deleted it, exactly
like the table's ``created_rev``/``deleted_rev``. A read *at* revision ``r`` is answered from memory
only when ``floor <= r <= applied``; outside that window, or for a filter shape the index has no
hash for (no resource ids and no subject ids), :meth:`RelationshipIndex.select` returns ``None`` and
the caller reads the database. So the index can be slow to catch up but never wrong: it never
answers for a revision it has not fully applied.

**How it stays current.** :meth:`add_snapshot_rows` and :meth:`finish_load` install a snapshot
taken at one revision; :meth:`apply_rows` then adds the change log after it, and :meth:`advance`
moves ``applied`` to the revision a complete batch was read through (only then do reads at the new
revisions come here). :meth:`prune` forgets rows deleted at or before a new floor (reads below the
floor then go to the database), and long-expired rows.

Rows are found through two hashes, by ``(resource type, resource id)`` and by
``(subject type, subject id)``; a change finds the live row it replaces by scanning the shorter of
its two lists, so no third per-row structure is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef
from rebac.store._common import LIVE
from rebac.store.base import Operation, RelationshipFilter

__all__ = ["RelationshipIndex"]

_Slot = tuple[str, str]


class _Row:
    """One version of a relationship: visible at revisions ``created <= r < deleted``."""

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


def _size(lists: Sequence[Sequence[_Row]]) -> int:
    return sum(len(rows) for rows in lists)


class RelationshipIndex:
    """The multi-version relationship index (see the module docstring). Not thread-safe: one loop."""

    __slots__ = ("_by_resource", "_by_subject", "_dead", "_refs", "_rows", "applied", "floor", "loaded")

    def __init__(self) -> None:
        self._by_resource: dict[_Slot, list[_Row]] = {}
        self._by_subject: dict[_Slot, list[_Row]] = {}
        self._refs: dict[_Slot, ObjectRef] = {}
        self._rows = 0
        self._dead = 0
        self.floor = 0
        self.applied = -1
        self.loaded = False

    # --- state -------------------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Row versions held (live and deleted-but-kept)."""
        return self._rows

    @property
    def dead(self) -> int:
        """Row versions held that are deleted at ``applied`` (kept for reads at older revisions)."""
        return self._dead

    def covers(self, revision: int) -> bool:
        """True when a read at ``revision`` can be answered from memory now."""
        return self.loaded and self.floor <= revision <= self.applied

    def clear(self) -> None:
        """Forget everything; reads go to the database until a new snapshot is loaded."""
        self._by_resource = {}
        self._by_subject = {}
        self._refs = {}
        self._rows = self._dead = 0
        self.floor, self.applied, self.loaded = 0, -1, False

    # --- building ----------------------------------------------------------------------------------

    def add_snapshot_rows(self, rows: Iterable[SnapshotRow]) -> None:
        """Add rows of a snapshot being loaded (each live at the snapshot revision).

        Built straight from the database rows (the hot loop of a million-row load): names are
        interned and object refs shared (a large index holds millions of rows).
        """
        relationship, insert = self._relationship, self._insert
        for columns in rows:
            insert(_Row(relationship(columns[:9]), columns[9]))

    def finish_load(self, revision: int) -> None:
        """Mark the snapshot of ``revision`` complete: reads at ``revision`` are now answerable."""
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
        relationship = self._relationship
        touched: tuple[int, tuple[str, ...]] | None = None
        for row in rows:
            rev, op = row[0], row[1]
            rel = relationship(row[2:11])
            key = rel.key()
            if op != _TOUCH and touched == (rev, key):
                continue
            current = self._live(rel)
            if current is not None:
                current.deleted = rev
                self._dead += 1
            if op == _TOUCH:
                self._insert(_Row(rel, rev))
                touched = (rev, key)

    def advance(self, through: int) -> None:
        """Every change up to ``through`` is applied: reads at revisions up to it come here."""
        self.applied = max(self.applied, through)

    def _relationship(self, columns: Columns) -> Relationship:
        """A relationship from its columns, with interned names and a shared resource ref."""
        rtype, rid, relation, stype, sid, srel, caveat_name, caveat_context, expires_at = columns
        slot = (rtype, rid)
        resource = self._refs.get(slot)
        if resource is None:
            resource = self._refs[slot] = ObjectRef(sys.intern(rtype), rid)
        intern = sys.intern
        subject = SubjectRef(intern(stype), sid, intern(srel) if srel else None)
        caveat = CaveatRef(caveat_name, caveat_context or {}) if caveat_name else None
        return Relationship(resource, intern(relation), subject, caveat, expires_at)

    def _insert(self, row: _Row) -> None:
        rel = row.rel
        resource, subject = rel.resource, rel.subject
        self._by_resource.setdefault((resource.type, resource.id), []).append(row)
        self._by_subject.setdefault((subject.type, subject.id), []).append(row)
        self._rows += 1

    def _live(self, rel: Relationship) -> _Row | None:
        """The live row with ``rel``'s key, if any (scans the shorter of its two lists)."""
        resource, subject = rel.resource, rel.subject
        by_resource = self._by_resource.get((resource.type, resource.id), ())
        by_subject = self._by_subject.get((subject.type, subject.id), ())
        candidates = by_resource if len(by_resource) <= len(by_subject) else by_subject
        relation, subject_relation = rel.relation, subject.relation
        for row in candidates:
            if row.deleted != LIVE:
                continue
            other = row.rel
            if (
                other.relation == relation
                and other.subject.relation == subject_relation
                and other.resource.id == resource.id
                and other.subject.id == subject.id
                and other.resource.type == resource.type
                and other.subject.type == subject.type
            ):
                return row
        return None

    def prune(self, floor: int, *, expired_before: datetime | None = None) -> int:
        """Forget rows deleted at or before ``floor`` and rows expired before ``expired_before``.

        Reads below ``floor`` are no longer answerable (they go to the database). Returns how many
        row versions were dropped.
        """
        floor = min(max(floor, self.floor), self.applied)

        def keep(row: _Row) -> bool:
            expiry = row.rel.expires_at
            if expired_before is not None and expiry is not None and expiry < expired_before:
                return False
            return row.deleted > floor

        dropped = 0
        for table in (self._by_resource, self._by_subject):
            for slot in list(table):
                rows = table[slot]
                kept = [row for row in rows if keep(row)]
                if len(kept) != len(rows):
                    if table is self._by_resource:
                        dropped += len(rows) - len(kept)
                    if kept:
                        table[slot] = kept
                    else:
                        del table[slot]
        self._rows -= dropped
        self._dead = sum(1 for rows in self._by_resource.values() for row in rows if row.deleted != LIVE)
        self.floor = floor
        return dropped

    # --- reading -----------------------------------------------------------------------------------

    def select(self, flt: RelationshipFilter, revision: int, now: datetime) -> list[Relationship] | None:
        """Relationships matching ``flt`` live at ``revision`` and unexpired at ``now``, key order.

        With both resource ids and subject ids, the side with fewer rows is scanned. ``None`` when
        the index cannot answer: ``revision`` outside ``[floor, applied]``, or a filter with
        neither resource ids nor subject ids (no hash serves it).
        """
        if not self.covers(revision):
            return None
        by_resource: list[Sequence[_Row]] | None = None
        by_subject: list[Sequence[_Row]] | None = None
        if flt.resource_type is not None and flt.resource_ids:
            rtype, table = flt.resource_type, self._by_resource
            by_resource = [table.get((rtype, rid), ()) for rid in dict.fromkeys(flt.resource_ids)]
        if flt.subject_type is not None and flt.subject_ids:
            stype, table = flt.subject_type, self._by_subject
            by_subject = [table.get((stype, sid), ()) for sid in dict.fromkeys(flt.subject_ids)]
        if by_resource is None or (by_subject is not None and _size(by_subject) < _size(by_resource)):
            lists = by_subject
        else:
            lists = by_resource
        if lists is None:
            return None
        found: list[Relationship] = []
        for rows in lists:
            for row in rows:
                if row.created <= revision < row.deleted:
                    rel = row.rel
                    expiry = rel.expires_at
                    if (expiry is None or expiry > now) and flt.matches(rel):
                        found.append(rel)
        if len(found) > 1:
            found.sort(key=Relationship.key)
        return found
