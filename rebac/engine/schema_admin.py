"""Schema writes that never orphan stored relationships (unless forced), and version diffs.

Every schema write becomes a new immutable version. Before it is stored, every stored relationship
whose (type, relation) the change touches is checked against the new schema; if any no longer
conforms (its type or relation is gone, or its subject type, caveat or expiration is no longer
allowed), the write is refused with :class:`rebac.errors.UnsafeSchemaChangeError` listing the
first :data:`MAX_LISTED_ORPHANS` offenders and the total count, and nothing is written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Final, Protocol

from rebac.errors import UnsafeSchemaChangeError
from rebac.schema import compile_schema
from rebac.schema.conformity import affected_relations, nonconformity
from rebac.store.base import RelationshipFilter, SchemaStore, SchemaVersion, TupleReader

__all__ = ["MAX_LISTED_ORPHANS", "SchemaAdminStore", "SchemaDiff", "diff_versions", "write_schema"]

MAX_LISTED_ORPHANS: Final = 100


class SchemaAdminStore(SchemaStore, TupleReader, Protocol):
    """What a schema write needs from the store: versions plus reads of stored relationships."""


async def write_schema(
    store: SchemaAdminStore,
    text: str,
    *,
    author: str,
    force: bool = False,
    source: str = "<schema>",
) -> SchemaVersion:
    """Compile ``text`` and store it as the new current version.

    Args:
        store: The schema and tuple store.
        text: Schema source text.
        author: Who writes it (an API key id, or ``cli``).
        force: Store it even if stored relationships would be orphaned.
        source: Name used in compile error positions.

    Returns:
        The new version.

    Raises:
        SchemaError: the text does not compile.
        UnsafeSchemaChangeError: stored relationships would be orphaned and ``force`` is false.
    """
    new = compile_schema(text, source)
    current = await store.current_schema()
    if current is not None and not force:
        old = compile_schema(current.text, f"version {current.version}")
        revision = await store.head_revision()
        offenders: list[dict[str, str]] = []
        count = 0
        for pair in affected_relations(old, new):
            flt = RelationshipFilter(resource_type=pair.resource_type, relation=pair.relation)
            async for rel in store.query(flt, revision=revision):
                why = nonconformity(new, rel)
                if why is None:
                    continue
                count += 1
                if len(offenders) < MAX_LISTED_ORPHANS:
                    offenders.append({"relationship": str(rel), "reason": why})
        if count:
            shown = ", ".join(o["relationship"] for o in offenders[:3])
            more = f" and {count - 3} more" if count > 3 else ""
            raise UnsafeSchemaChangeError(
                f"the schema change would orphan {count} stored relationship(s): {shown}{more}; "
                "delete them first or write with force",
                details={"relationships": offenders, "count": count},
            )
    return await store.write_schema(text, author=author)


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """A diff between two versions: a unified diff of their texts."""

    old_version: int
    new_version: int
    unified: str


def diff_versions(old: SchemaVersion, new: SchemaVersion) -> SchemaDiff:
    """Unified diff between two stored schema versions."""
    lines = difflib.unified_diff(
        old.text.splitlines(keepends=True),
        new.text.splitlines(keepends=True),
        fromfile=f"version {old.version}",
        tofile=f"version {new.version}",
    )
    return SchemaDiff(old.version, new.version, "".join(lines))
