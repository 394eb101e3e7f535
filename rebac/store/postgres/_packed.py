"""The packed base of the relationship index: interned names and objects, rows in flat arrays.

A Python object per relationship costs about 500 bytes; ten million of them do not fit a process.
Here a relationship is four 32-bit numbers in four ``array('I')`` columns (``res``, ``rel``,
``sub``, ``srel``: resource object, relation name, subject object, subject relation name), plus one
32-bit entry in each of two permutations that group the rows by resource object and by subject
object (compressed sparse rows: ``fperm[foff[o]:foff[o + 1]]`` are the rows of resource ``o``,
``rperm[roff[o]:roff[o + 1]]`` those with subject ``o``). That is 24 bytes a row, and 8 bytes of
offsets a distinct object.

:class:`Vocabulary` interns the strings: names (object types, relations, subject relations; code
``0`` is ``""``, no subject relation) to small codes, and every distinct ``(type, id)`` to an object
number, with the id string kept once (``object_ids``) for building results. It only grows (a
compaction keeps it; a snapshot reload starts a new one).

Caveats, expirations and the revisions of rows not live since the floor are rare, so they are
sparse side tables keyed by row number (``caveats``, ``expires``, ``created``, ``deleted``).

:class:`PackedBuilder` collects rows (text lines straight from ``COPY ... TO STDOUT``, or one row at
a time) and :meth:`PackedBuilder.build` sorts them into the permutations with a counting sort: two
passes over 32-bit arrays, no per-row object.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Sequence
from datetime import datetime
from itertools import accumulate, compress, repeat
from operator import is_

from rebac.refs import CaveatRef

__all__ = ["PackedBuilder", "PackedRows", "Vocabulary"]

_U32 = "I"
_EMPTY: array[int] = array(_U32)
_MAX_ROWS = 2**32 - 1
_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE_RE = re.compile(r"\\(.)")


def _zeros(n: int) -> array[int]:
    return array(_U32, [0]) * n


class Vocabulary:
    """Interned names and objects (see the module docstring). Grows only."""

    __slots__ = ("codes", "names", "object_ids", "object_types", "objects")

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self.codes: dict[str, int] = {"": 0}
        self.objects: dict[str, dict[str, int]] = {}
        """Object type -> object id -> object number."""
        self.object_ids: list[str] = []
        self.object_types: array[int] = array(_U32)

    def __len__(self) -> int:
        return len(self.object_ids)

    def code(self, name: str) -> int:
        """The code of ``name``, interning it."""
        found = self.codes.get(name)
        if found is None:
            found = self.codes[name] = len(self.names)
            self.names.append(sys.intern(name))
        return found

    def number(self, type_: str, id_: str) -> int:
        """The number of object ``type_:id_``, interning it."""
        ids = self.objects.get(type_)
        if ids is None:
            ids = self.objects[type_] = {}
        found = ids.get(id_)
        if found is None:
            found = ids[id_] = len(self.object_ids)
            self.object_ids.append(id_)
            self.object_types.append(self.code(type_))
        return found

    def find(self, type_: str, id_: str) -> int | None:
        """The number of object ``type_:id_``, or ``None`` if it was never interned."""
        ids = self.objects.get(type_)
        return None if ids is None else ids.get(id_)


class PackedRows:
    """Rows grouped by resource and by subject (see the module docstring). Built by a builder.

    Only the sparse ``deleted`` table changes after the build (the change log deletes rows).
    """

    __slots__ = (
        "caveats",
        "created",
        "deleted",
        "expires",
        "foff",
        "fperm",
        "rel",
        "res",
        "roff",
        "rperm",
        "srel",
        "sub",
    )

    def __init__(
        self,
        columns: tuple[array[int], array[int], array[int], array[int]],
        forward: tuple[array[int], array[int]],
        reverse: tuple[array[int], array[int]],
        sparse: tuple[dict[int, CaveatRef], dict[int, datetime], dict[int, int], dict[int, int]],
    ) -> None:
        self.res, self.rel, self.sub, self.srel = columns
        self.fperm, self.foff = forward
        self.rperm, self.roff = reverse
        self.caveats, self.expires, self.created, self.deleted = sparse

    def __len__(self) -> int:
        return len(self.res)

    def by_resource(self, obj: int) -> array[int]:
        """Row numbers of resource object ``obj`` (ascending)."""
        off = self.foff
        if obj + 1 >= len(off):
            return _EMPTY
        return self.fperm[off[obj] : off[obj + 1]]

    def by_subject(self, obj: int) -> array[int]:
        """Row numbers with subject object ``obj`` (ascending)."""
        off = self.roff
        if obj + 1 >= len(off):
            return _EMPTY
        return self.rperm[off[obj] : off[obj + 1]]

    def resource_count(self, obj: int) -> int:
        """How many rows resource object ``obj`` has."""
        off = self.foff
        return 0 if obj + 1 >= len(off) else off[obj + 1] - off[obj]

    def subject_count(self, obj: int) -> int:
        """How many rows have subject object ``obj``."""
        off = self.roff
        return 0 if obj + 1 >= len(off) else off[obj + 1] - off[obj]

    def live(self, res: int, rel: int, sub: int, srel: int) -> int | None:
        """The row with this key that no change has deleted, if any (scans the shorter group)."""
        if self.resource_count(res) <= self.subject_count(sub):
            rows, column, want = self.by_resource(res), self.sub, sub
        else:
            rows, column, want = self.by_subject(sub), self.res, res
        relations, subject_relations, deleted = self.rel, self.srel, self.deleted
        for row in rows:
            if (
                column[row] == want
                and relations[row] == rel
                and subject_relations[row] == srel
                and row not in deleted
            ):
                return row
        return None


class PackedBuilder:
    """Collects rows into columns, then :meth:`build` packs them. One use."""

    __slots__ = ("_vocab", "caveats", "created", "deleted", "expires", "rel", "res", "srel", "sub")

    def __init__(self, vocab: Vocabulary) -> None:
        self._vocab = vocab
        self.res: array[int] = array(_U32)
        self.rel: array[int] = array(_U32)
        self.sub: array[int] = array(_U32)
        self.srel: array[int] = array(_U32)
        self.caveats: dict[int, CaveatRef] = {}
        self.expires: dict[int, datetime] = {}
        self.created: dict[int, int] = {}
        self.deleted: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.res)

    def add(
        self,
        key: Sequence[str],
        caveat: CaveatRef | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Add one row (``key``: resource type, id, relation, subject type, id, relation or ``""``).

        Returns its row number (for the ``created``/``deleted`` side tables).
        """
        vocab = self._vocab
        rtype, rid, relation, stype, sid, srel = key
        row = len(self.res)
        self.res.append(vocab.number(rtype, rid))
        self.rel.append(vocab.code(relation))
        self.sub.append(vocab.number(stype, sid))
        self.srel.append(vocab.code(srel))
        if caveat is not None:
            self.caveats[row] = caveat
        if expires_at is not None:
            self.expires[row] = expires_at
        return row

    def add_copy_text(self, data: bytes) -> None:
        """Add the rows of whole lines of ``COPY`` text output of the six key columns."""
        text = data.decode()
        if "\\" in text:  # never in SpiceDB-grammar ids and names; decoded for safety
            fields = [
                _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), field)
                for line in text.split("\n")
                if line
                for field in line.split("\t")
            ]
        else:
            fields = text.replace("\n", "\t").split("\t")
            fields.pop()  # after the last line's newline
        if len(fields) % 6:
            raise ValueError("COPY data of the six key columns expected")
        self._add_columns(fields[0::6], fields[1::6], self.res)
        self._add_columns(fields[3::6], fields[4::6], self.sub)
        self._add_names(fields[2::6], self.rel)
        self._add_names(fields[5::6], self.srel)

    def _add_columns(self, types: list[str], ids: list[str], column: array[int]) -> None:
        """Append the numbers of objects ``types[i]:ids[i]`` to ``column`` (C loops, but for new ones)."""
        vocab = self._vocab
        objects, codes, object_ids, object_types = (
            vocab.objects,
            vocab.codes,
            vocab.object_ids,
            vocab.object_types,
        )
        for type_ in set(types):
            if type_ not in objects:
                objects[type_] = {}
                vocab.code(type_)
        numbers = list(map(dict.get, map(objects.__getitem__, types), ids))
        new_id, new_type = object_ids.append, object_types.append
        for at in compress(range(len(numbers)), map(is_, numbers, repeat(None))):
            type_, id_ = types[at], ids[at]
            table = objects[type_]
            number = table.get(id_)
            if number is None:
                number = table[id_] = len(object_ids)
                new_id(id_)
                new_type(codes[type_])
            numbers[at] = number
        column.extend(numbers)  # type: ignore[arg-type]  # every None was replaced above

    def _add_names(self, names: list[str], column: array[int]) -> None:
        """Append the codes of ``names`` to ``column``."""
        codes = list(map(self._vocab.codes.get, names))
        for at in compress(range(len(codes)), map(is_, codes, repeat(None))):
            codes[at] = self._vocab.code(names[at])
        column.extend(codes)  # type: ignore[arg-type]  # every None was replaced above

    def build(self) -> PackedRows:
        """Pack the rows: group them by resource and by subject (counting sorts)."""
        if len(self.res) > _MAX_ROWS:
            raise OverflowError("more relationships than a packed index holds")
        objects = len(self._vocab)
        return PackedRows(
            (self.res, self.rel, self.sub, self.srel),
            _group(self.res, objects),
            _group(self.sub, objects),
            (self.caveats, self.expires, self.created, self.deleted),
        )


def _group(keys: array[int], objects: int) -> tuple[array[int], array[int]]:
    """``(perm, offsets)``: row numbers ordered by key (stable), and each key's start in them."""
    counts = _zeros(objects)
    for key in keys:
        counts[key] += 1
    offsets = array(_U32, accumulate(counts, initial=0))
    del counts
    fill = array(_U32, offsets)
    perm = _zeros(len(keys))
    for row, key in enumerate(keys):
        at = fill[key]
        perm[at] = row
        fill[key] = at + 1
    return perm, offsets
