"""Schema writes that never orphan stored relationships (unless forced), and version diffs.

Every schema write becomes a new immutable version. Before it is stored, every stored relationship
whose (type, relation) the change touches is checked against the new schema; if one that conformed
to the current schema no longer would (its type or relation is gone, its subject type, caveat or
expiration is no longer allowed, its caveat lost a parameter its context sets, or a parameter's
type changed so that its stored value no longer fits), the write is refused with
:class:`rebac.errors.UnsafeSchemaChangeError` listing the first :data:`MAX_LISTED_ORPHANS`
offenders and the exact total, and nothing is written. Relationships that were already
non-conforming (left behind by an earlier forced write, or imported before any schema) are not
counted against a later change, except by the very first schema write, which checks everything.

The check reads one snapshot (the head revision) without blocking writers; then, under the
store's writer lock (``SchemaStore.write_schema``'s ``verify``), it checks every relationship
written since that snapshot, so a relationship written in the window cannot be left
non-conforming. The version is stored with a compare-and-set on the version the check was made
against, so a concurrent schema write makes this one fail with
:class:`rebac.errors.SchemaVersionConflictError` instead of being silently checked against a
schema it does not replace. Relationship writes carry the version they were validated against
(``TupleWriter.write``'s ``schema_version``), which closes the race from the other side.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from rebac.errors import SchemaError, SchemaVersionConflictError, UnsafeSchemaChangeError
from rebac.refs import Relationship
from rebac.schema import compile_schema, ir
from rebac.schema.conformity import affected_relations, nonconformity
from rebac.services.engines import Engines, compile_version
from rebac.store.base import (
    Changelog,
    Operation,
    RelationshipFilter,
    SchemaStore,
    SchemaVersion,
    TupleReader,
    TupleStore,
)
from rebac.store.revision import Revision

__all__ = [
    "MAX_LISTED_ORPHANS",
    "SchemaAdminStore",
    "SchemaDiff",
    "Schemas",
    "diff_texts",
    "diff_versions",
    "orphaning_reason",
    "write_schema",
]

MAX_LISTED_ORPHANS: Final = 100
"""How many offending relationships an :class:`UnsafeSchemaChangeError` lists (the count is exact)."""

_SHOWN_IN_MESSAGE: Final = 3
_CHANGE_PAGE: Final = 1000


class SchemaAdminStore(SchemaStore, TupleReader, Changelog, Protocol):
    """What a schema write needs: versions, reads of stored relationships and the change log."""


def orphaning_reason(old: ir.Schema | None, new: ir.Schema, rel: Relationship) -> str | None:
    """Why replacing ``old`` with ``new`` would orphan ``rel``, or ``None`` when it would not.

    A relationship that does not conform to ``old`` is not orphaned by the change (it already
    was); with ``old`` ``None`` (no schema yet, or one that no longer compiles) every relationship
    that does not conform to ``new`` is.

    Args:
        old: The schema being replaced, or ``None``.
        new: The schema being written.
        rel: A stored relationship.
    """
    why = nonconformity(new, rel)
    if why is None:
        return None
    if old is not None and nonconformity(old, rel) is not None:
        return None
    return why


def _filters(old: ir.Schema | None, new: ir.Schema) -> Iterator[RelationshipFilter]:
    if old is None:
        yield RelationshipFilter()
        return
    for pair in affected_relations(old, new):
        yield RelationshipFilter(resource_type=pair.resource_type, relation=pair.relation)


def _compile_current(current: SchemaVersion | None) -> ir.Schema | None:
    if current is None:
        return None
    try:
        return compile_version(current)
    except SchemaError:
        # The stored text no longer compiles (the language changed under it): check everything.
        return None


class _Orphans:
    """Offending relationships found so far: the first :data:`MAX_LISTED_ORPHANS` and the count."""

    __slots__ = ("count", "listed", "new", "old")

    def __init__(self, old: ir.Schema | None, new: ir.Schema) -> None:
        self.old = old
        self.new = new
        self.listed: list[dict[str, str]] = []
        self.count = 0

    def consider(self, rel: Relationship) -> None:
        why = orphaning_reason(self.old, self.new, rel)
        if why is None:
            return
        self.count += 1
        if len(self.listed) < MAX_LISTED_ORPHANS:
            self.listed.append({"relationship": str(rel), "reason": why})

    def refuse(self, revision: Revision) -> None:
        if not self.count:
            return
        count = self.count
        shown = ", ".join(o["relationship"] for o in self.listed[:_SHOWN_IN_MESSAGE])
        more = f" and {count - _SHOWN_IN_MESSAGE} more" if count > _SHOWN_IN_MESSAGE else ""
        raise UnsafeSchemaChangeError(
            f"the schema change would orphan {count} stored relationship(s): {shown}{more}; "
            "delete them first or write with force",
            details={"relationships": self.listed, "count": count, "revision": revision.value},
        )


async def _refuse_orphans(store: SchemaAdminStore, old: ir.Schema | None, new: ir.Schema) -> Revision:
    """Scan the head snapshot (writers go on meanwhile); return the revision scanned."""
    revision = await store.head_revision()
    orphans = _Orphans(old, new)
    for flt in _filters(old, new):
        async for rel in store.query(flt, revision=revision):
            orphans.consider(rel)
    orphans.refuse(revision)
    return revision


async def _refuse_new_orphans(
    store: SchemaAdminStore, old: ir.Schema | None, new: ir.Schema, since: Revision
) -> None:
    """Under the writer lock: check what was written after the scanned snapshot ``since``."""
    last: dict[tuple[str, ...], tuple[Operation, Relationship]] = {}
    position = since
    while changes := await store.changes_since(position, limit=_CHANGE_PAGE):
        for change in changes:
            last[change.relationship.key()] = (change.operation, change.relationship)
        position = changes[-1].revision  # whole revisions only: nothing of it is left behind
    orphans = _Orphans(old, new)
    for operation, rel in last.values():
        if operation is not Operation.DELETE:
            orphans.consider(rel)
    orphans.refuse(position)


async def write_schema(
    store: SchemaAdminStore,
    text: str,
    *,
    author: str,
    force: bool = False,
    source: str = "<schema>",
    expected_version: int | None = None,
) -> SchemaVersion:
    """Compile ``text`` and store it as the new current version.

    Args:
        store: The schema and tuple store.
        text: Schema source text.
        author: Who writes it (an API key id, or ``cli``).
        force: Store it even if stored relationships would be orphaned.
        source: Name used in compile error positions.
        expected_version: Refuse unless this version is current (``0``: no schema yet), for
            callers that edited a version they read. ``None`` replaces whatever is current.

    Returns:
        The new version.

    Raises:
        SchemaError: the text does not compile.
        UnsafeSchemaChangeError: stored relationships would be orphaned and ``force`` is false.
        SchemaVersionConflictError: ``expected_version`` is not current, or another schema write
            committed while this one was being checked. Nothing was written; retry.
    """
    new = compile_schema(text, source)
    current = await store.current_schema()
    current_number = 0 if current is None else current.version
    if expected_version is not None and expected_version != current_number:
        raise SchemaVersionConflictError(
            f"the schema changed: expected version {expected_version}, current is {current_number}",
            expected=expected_version,
            actual=current_number,
        )
    if force:
        return await store.write_schema(text, author=author, expected_version=current_number)
    old = _compile_current(current)
    scanned = await _refuse_orphans(store, old, new)

    async def verify() -> None:
        await _refuse_new_orphans(store, old, new, scanned)

    return await store.write_schema(text, author=author, expected_version=current_number, verify=verify)


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """A diff between two schemas: a unified diff of their texts (empty when they are equal)."""

    old_label: str
    new_label: str
    unified: str

    @property
    def changed(self) -> bool:
        """True when the texts differ."""
        return bool(self.unified)


def _lines(text: str) -> list[str]:
    # Every line ends with a newline, so a last line without one does not run into the next.
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]


def diff_texts(old_text: str, new_text: str, old_label: str, new_label: str) -> SchemaDiff:
    """Unified diff between two schema texts, labelled ``old_label`` and ``new_label``."""
    lines = difflib.unified_diff(_lines(old_text), _lines(new_text), fromfile=old_label, tofile=new_label)
    return SchemaDiff(old_label, new_label, "".join(lines))


def diff_versions(old: SchemaVersion, new: SchemaVersion) -> SchemaDiff:
    """Unified diff between two stored schema versions."""
    return diff_texts(old.text, new.text, f"version {old.version}", f"version {new.version}")


class Schemas:
    """Schema versions of one store: writes, the current version, history and diffs.

    Args:
        store: The open store.
        engines: The current-schema engines, told when this process writes a schema.
    """

    __slots__ = ("_engines", "_store")

    def __init__(self, store: TupleStore, engines: Engines) -> None:
        self._store = store
        self._engines = engines

    async def write(
        self,
        text: str,
        *,
        author: str,
        force: bool = False,
        source: str = "<schema>",
        expected_version: int | None = None,
    ) -> tuple[SchemaVersion, Revision]:
        """Store ``text`` as the new current version (see :func:`write_schema`).

        Returns:
            The new version and the revision a read must reach to see it.
        """
        version = await write_schema(
            self._store, text, author=author, force=force, source=source, expected_version=expected_version
        )
        self._engines.invalidate()
        head = await self._store.head_revision()
        return version, max(head, version.revision)

    async def current(self) -> SchemaVersion:
        """The current version, read now (not the engines' cached pointer).

        Raises:
            SchemaVersionNotFoundError: no schema was written yet.
        """
        self._engines.invalidate()
        return await self._engines.current_version()

    async def version(self, number: int) -> SchemaVersion:
        """Stored version ``number``.

        Raises:
            SchemaVersionNotFoundError: there is no such version.
        """
        return await self._store.schema_version(number)

    async def history(self) -> tuple[list[SchemaVersion], SchemaVersion | None]:
        """Every stored version, oldest first, and the current one (``None`` before the first)."""
        return await self._store.schema_history(), await self._store.current_schema()

    async def head(self) -> Revision:
        """The newest revision of the store (what a schema read is as fresh as)."""
        return await self._store.head_revision()
