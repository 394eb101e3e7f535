"""Write-path statements of the Postgres store: batched key lookups over ``unnest`` arrays.

One statement per shape whatever the batch size (the keys travel as six text arrays), so psycopg
prepares each of them once per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from rebac.refs import Relationship
from rebac.store.postgres.models import LIVE_REVISION

__all__ = ["DUPLICATES", "KILL", "insert_params", "key_arrays"]

KILL: Final = sa.text(
    """
    UPDATE relation_tuple AS t SET deleted_rev = :rev
    FROM unnest(CAST(:rt AS text[]), CAST(:rid AS text[]), CAST(:rel AS text[]),
                CAST(:st AS text[]), CAST(:sid AS text[]), CAST(:sr AS text[]))
         AS k(rt, rid, rel, st, sid, sr)
    WHERE t.deleted_rev = 9223372036854775807
      AND t.resource_type = k.rt AND t.resource_id = k.rid AND t.relation = k.rel
      AND t.subject_type = k.st AND t.subject_id = k.sid AND t.subject_relation = k.sr
    RETURNING t.resource_type, t.resource_id, t.relation, t.subject_type, t.subject_id, t.subject_relation
    """
)
DUPLICATES: Final = sa.text(
    """
    SELECT t.resource_type, t.resource_id, t.relation, t.subject_type, t.subject_id, t.subject_relation
    FROM relation_tuple AS t
    JOIN unnest(CAST(:rt AS text[]), CAST(:rid AS text[]), CAST(:rel AS text[]),
                CAST(:st AS text[]), CAST(:sid AS text[]), CAST(:sr AS text[]))
         AS k(rt, rid, rel, st, sid, sr)
      ON t.resource_type = k.rt AND t.resource_id = k.rid AND t.relation = k.rel
     AND t.subject_type = k.st AND t.subject_id = k.sid AND t.subject_relation = k.sr
    WHERE t.deleted_rev = 9223372036854775807 AND (t.expires_at IS NULL OR t.expires_at > now())
    LIMIT 1
    """
)


def key_arrays(rels: Sequence[Relationship]) -> dict[str, list[str]]:
    """The keys of ``rels`` as the six parallel arrays the statements above take."""
    keys = [rel.key() for rel in rels]
    return {name: [key[i] for key in keys] for i, name in enumerate(("rt", "rid", "rel", "st", "sid", "sr"))}


def insert_params(rel: Relationship, value: int) -> dict[str, Any]:
    """Column values inserting ``rel`` as live at revision ``value``."""
    caveat = rel.caveat
    return {
        "resource_type": rel.resource.type,
        "resource_id": rel.resource.id,
        "relation": rel.relation,
        "subject_type": rel.subject.type,
        "subject_id": rel.subject.id,
        "subject_relation": rel.subject.relation or "",
        "caveat_name": caveat.name if caveat else None,
        "caveat_context": caveat.context if caveat else None,
        "expires_at": rel.expires_at,
        "created_rev": value,
        "deleted_rev": LIVE_REVISION,
    }
