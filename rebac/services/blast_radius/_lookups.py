"""The engine lookups behind every entry (cursors followed, bounded) and small selection helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from rebac import limits
from rebac.engine.results import LookupPage, LookupResourceItem, LookupSubjectItem, Permissionship
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import ir
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = ["effective_of", "members", "resources", "selected", "subjects"]


T = TypeVar("T")


async def _collect(
    fetch: Callable[[int, str | None], Awaitable[LookupPage[T]]], remaining: int
) -> tuple[list[T], bool]:
    """Every item of a lookup (cursors followed), stopping after ``remaining + 1`` (then ``True``).

    Args:
        fetch: Returns one page for ``(limit, cursor)``.
        remaining: How many items the budget still allows.
    """
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(max(1, min(limits.MAX_LOOKUP_PAGE_SIZE, remaining + 1 - len(items))), cursor)
        items.extend(page.items)
        if len(items) > remaining:
            return items[:remaining], True
        if page.cursor is None:
            return items, False
        cursor = page.cursor


async def resources(
    engine: Engine,
    resource_type: str,
    permission: str,
    subject: SubjectRef,
    revision: Revision,
    *,
    delegation: bool,
    remaining: int,
) -> tuple[list[LookupResourceItem], bool]:
    """Every resource ``subject`` reaches, bounded like :func:`_collect`."""

    def fetch(limit: int, cursor: str | None) -> Awaitable[LookupPage[LookupResourceItem]]:
        return engine.lookup_resources(
            resource_type,
            permission,
            subject,
            revision=revision,
            limit=limit,
            cursor=cursor,
            delegation=delegation,
        )

    return await _collect(fetch, remaining)


async def subjects(
    engine: Engine,
    resource: ObjectRef,
    permission: str,
    subject_type: str,
    revision: Revision,
    *,
    delegation: bool,
    remaining: int,
) -> tuple[list[LookupSubjectItem], bool]:
    """Every subject of ``subject_type`` reaching ``resource``, bounded like :func:`_collect`."""

    def fetch(limit: int, cursor: str | None) -> Awaitable[LookupPage[LookupSubjectItem]]:
        return engine.lookup_subjects(
            resource,
            permission,
            subject_type,
            revision=revision,
            limit=limit,
            cursor=cursor,
            delegation=delegation,
        )

    return await _collect(fetch, remaining)


def effective_of(
    raw: Permissionship, capped: Permissionship | None, *, delegating: bool, raw_only: bool
) -> Permissionship | None:
    """The effective value of an entry: ``None`` when not computed, the raw value without delegation."""
    if raw_only:
        return None
    if not delegating:
        return raw
    return Permissionship.NO_PERMISSION if capped is None else capped


def members(definition: ir.Definition) -> list[str]:
    return sorted([*definition.relations, *definition.permissions])


def selected(values: Sequence[str] | None, value: str) -> bool:
    return values is None or value in values
