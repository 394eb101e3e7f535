"""The hot loop of an index read: the packed base rows of some objects that match a filter.

Rows are compared as numbers (name codes, object numbers) and only the matching ones become
:class:`rebac.refs.Relationship` values, built from the vocabulary's interned strings.
"""

from __future__ import annotations

from datetime import datetime

from rebac.refs import ObjectRef, Relationship, SubjectRef
from rebac.store._common import LIVE
from rebac.store.base import RelationshipFilter
from rebac.store.postgres._packed import PackedRows, Vocabulary

__all__ = ["filter_codes", "scan_base"]

_NOTHING = -2
"""A filter code no row has (a name the vocabulary never saw)."""


def filter_codes(
    vocab: Vocabulary, flt: RelationshipFilter, *, forward: bool
) -> tuple[tuple[int, int, int], set[int] | None] | None:
    """``(codes, others)`` of :func:`scan_base` for ``flt``, or ``None`` when no base row can match.

    ``forward``: the scan is by resource (the other side is the subject), else by subject.
    """
    codes = vocab.codes
    relation = -1 if flt.relation is None else codes.get(flt.relation, _NOTHING)
    wanted = flt.subject_relation
    # None: plain subjects only (code 0 is ""); ANY_RELATION: any
    srel = codes.get(wanted, _NOTHING) if isinstance(wanted, str) else 0 if wanted is None else -1
    other_type_name, other_ids = (
        (flt.subject_type, flt.subject_ids) if forward else (flt.resource_type, flt.resource_ids)
    )
    other_type = -1 if other_type_name is None else codes.get(other_type_name, _NOTHING)
    if _NOTHING in {relation, srel, other_type}:
        return None
    others: set[int] | None = None
    if other_ids:
        known = vocab.objects.get(other_type_name or "", {})
        others = {number for id_ in other_ids if (number := known.get(id_)) is not None}
        if not others:
            return None
    return (relation, srel, other_type), others


def scan_base(
    base: PackedRows,
    vocab: Vocabulary,
    objects: list[int],
    *,
    forward: bool,
    codes: tuple[int, int, int],
    others: set[int] | None,
    revision: int,
    now: datetime,
    found: list[Relationship],
) -> None:
    """Append to ``found`` the base rows of ``objects`` visible at ``revision`` and ``now`` that match.

    ``forward``: ``objects`` are resources (else subjects). ``codes`` are the relation, subject
    relation and the other side's type codes, ``-1`` for any. ``others``: the other side's object
    numbers allowed (``None``: any).
    """
    relation, subject_relation, other_type = codes
    res, rel, sub, srel = base.res, base.rel, base.sub, base.srel
    types, ids, names = vocab.object_types, vocab.object_ids, vocab.names
    deleted, created, expires, caveats = base.deleted, base.created, base.expires, base.caveats
    group = base.by_resource if forward else base.by_subject
    other_column = sub if forward else res
    refs: dict[int, ObjectRef] = {}
    for obj in objects:
        for row in group(obj):
            if relation >= 0 and rel[row] != relation:
                continue
            row_srel = srel[row]
            if subject_relation >= 0 and row_srel != subject_relation:
                continue
            other = other_column[row]
            if other_type >= 0 and types[other] != other_type:
                continue
            if others is not None and other not in others:
                continue
            if deleted and deleted.get(row, LIVE) <= revision:
                continue
            if created and created.get(row, 0) > revision:
                continue
            expiry = expires.get(row) if expires else None
            if expiry is not None and expiry <= now:
                continue
            r, s = res[row], sub[row]
            resource = refs.get(r)
            if resource is None:
                resource = refs[r] = ObjectRef(names[types[r]], ids[r])
            subject = SubjectRef(names[types[s]], ids[s], names[row_srel] if row_srel else None)
            caveat = caveats.get(row) if caveats else None
            found.append(Relationship(resource, names[rel[row]], subject, caveat, expiry))
