"""Proposed relationship changes, and a read-only overlay of them over one snapshot of a store.

The analyses that ask "what if" (:mod:`rebac.services.what_if`, :mod:`rebac.services.least_privilege`)
evaluate against :class:`OverlayReader`: the store's relationships at one pinned revision, with
some relationships touched (added or replaced) and some deleted, in memory only. Nothing is ever
written to the store; an engine built over the overlay reads the store and applies the changes on
the fly, in the store's own key order, so cursors and chunked reads behave as on the store.

The changes text (``rebac what-if --relationships CHANGES.txt``) has one change per line::

    // comments and blank lines are skipped
    touch document:1#viewer@user:tom        add it (or replace its caveat / expiration)
    document:2#viewer@user:ann[expiration:2030-01-01T00:00:00Z]   a bare line is a touch
    delete document:1#viewer@user:bob       remove it (caveat and expiration are ignored)

A bad line raises :class:`ChangeLineError` with its 1-based line and column.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from rebac import errors
from rebac.refs import Relationship, parse_relationship, stored
from rebac.schema import ir
from rebac.schema.conformity import nonconformity
from rebac.store.base import Consistency, Operation, RelationshipFilter, TupleReader
from rebac.store.revision import Revision

__all__ = ["ChangeLineError", "NumberedChange", "OverlayReader", "parse_changes"]

_VERBS: Final = {"touch": Operation.TOUCH, "create": Operation.TOUCH, "delete": Operation.DELETE}

RelationshipKey = tuple[str, str, str, str, str, str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChangeLineError(errors.InvalidInputError):
    """A line of a changes text is not a change (or does not conform to the proposed schema).

    Attributes:
        source: The file name or label of the text.
        line: 1-based line.
        column: 1-based column of the bad part.
    """

    def __init__(self, message: str, *, source: str, line: int, column: int) -> None:
        super().__init__(
            f"{source}:{line}:{column}: {message}",
            details={"source": source, "line": line, "column": column, "reason": message},
        )
        self.source = source
        self.line = line
        self.column = column
        self.reason = message


@dataclass(frozen=True, slots=True)
class NumberedChange:
    """One change of a changes text and the line it came from."""

    operation: Operation
    relationship: Relationship
    line: int


def _parse_line(raw: str, number: int, source: str) -> NumberedChange | None:
    text = raw.rstrip("\r\n")
    start = len(text) - len(text.lstrip())
    body = text.strip()
    if not body or body.startswith("//"):
        return None
    operation = Operation.TOUCH
    verb, sep, rest = body.partition(" ")
    if verb in _VERBS:
        operation = _VERBS[verb]
        if not rest.strip():
            column = start + len(verb) + 1
            raise ChangeLineError(f"{verb} needs a relationship", source=source, line=number, column=column)
        start += len(verb) + len(sep) + len(rest) - len(rest.lstrip())
        body = rest.strip()
    try:
        rel = stored(parse_relationship(body))
    except errors.RefSyntaxError as exc:
        raise ChangeLineError(
            exc.message, source=source, line=number, column=start + exc.position + 1
        ) from None
    return NumberedChange(operation, rel, number)


def parse_changes(
    text: str, *, source: str = "changes", schema: ir.Schema | None = None
) -> list[NumberedChange]:
    """The changes of ``text`` (see the module docstring), in order.

    Args:
        text: The changes text.
        source: The file name or label errors name.
        schema: When given, every touched relationship must conform to it.

    Raises:
        ChangeLineError: the first bad line, with its line and column.
    """
    out: list[NumberedChange] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        change = _parse_line(raw, number, source)
        if change is None:
            continue
        if schema is not None and change.operation is Operation.TOUCH:
            why = nonconformity(schema, change.relationship)
            if why is not None:
                column = len(raw) - len(raw.lstrip()) + 1
                raise ChangeLineError(why, source=source, line=number, column=column)
        out.append(change)
    return out


class OverlayReader:
    """A :class:`~rebac.store.base.TupleReader` of ``base`` at ``revision`` with ``changes`` applied.

    Every read answers at the pinned ``revision`` (``resolve`` returns it whatever the
    consistency asks), so an engine over the overlay sees one consistent snapshot. A later change
    of the same relationship (same key) wins over an earlier one. Touched relationships that have
    expired by ``clock()`` are invisible, as on a store.

    Args:
        base: The store (only read).
        revision: The snapshot every read uses.
        changes: ``(operation, relationship)`` pairs: TOUCH/CREATE add or replace, DELETE removes.
        clock: The wall clock deciding expiration of touched relationships.
    """

    __slots__ = ("_added", "_base", "_changed", "_clock", "_revision")

    def __init__(
        self,
        base: TupleReader,
        revision: Revision,
        changes: Sequence[tuple[Operation, Relationship]],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        final: dict[RelationshipKey, Relationship | None] = {}
        for operation, rel in changes:
            final[rel.key()] = None if operation is Operation.DELETE else rel
        self._base = base
        self._revision = revision
        self._changed = frozenset(final)
        self._added = sorted((rel for rel in final.values() if rel is not None), key=Relationship.key)
        self._clock = clock or _utcnow

    @property
    def revision(self) -> Revision:
        """The pinned snapshot."""
        return self._revision

    async def resolve(self, consistency: Consistency) -> Revision:  # noqa: ARG002 - always the snapshot
        """The pinned revision."""
        return self._revision

    async def head_revision(self) -> Revision:
        """The pinned revision."""
        return self._revision

    async def query(
        self,
        flt: RelationshipFilter,
        *,
        revision: Revision,  # noqa: ARG002 - the overlay reads its pinned snapshot only
        limit: int | None = None,
        after: Relationship | None = None,
    ) -> AsyncIterator[Relationship]:
        """The base's relationships at the snapshot with the changes applied, in key order."""
        if not self._changed:
            async for rel in self._base.query(flt, revision=self._revision, limit=limit, after=after):
                yield rel
            return
        now = self._clock()
        cursor = None if after is None else after.key()
        added = [
            rel
            for rel in self._added
            if flt.matches(rel) and (cursor is None or rel.key() > cursor) and not rel.is_expired(now)
        ]
        # At most len(changed) base rows are skipped, so this many rows always fill ``limit``.
        base_limit = None if limit is None else limit + len(self._changed)
        produced = 0
        index = 0
        async for rel in self._base.query(flt, revision=self._revision, limit=base_limit, after=after):
            key = rel.key()
            while index < len(added) and added[index].key() < key:
                yield added[index]
                index += 1
                produced += 1
                if limit is not None and produced >= limit:
                    return
            if key in self._changed:
                continue
            yield rel
            produced += 1
            if limit is not None and produced >= limit:
                return
        for rel in added[index:]:
            yield rel
            produced += 1
            if limit is not None and produced >= limit:
                return
