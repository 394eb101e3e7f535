"""View models of the schema page: the version history, one version's text and a diff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from rebac.errors import InvalidInputError
from rebac.services.schemas import SchemaDiff
from rebac.services.types import SchemaVersion

__all__ = ["DiffLine", "VersionView", "diff_lines", "version_number", "version_view"]


@dataclass(frozen=True, slots=True)
class VersionView:
    """One stored schema version, as the history lists it."""

    version: int
    hash: str
    author: str
    created: str
    revision: str
    current: bool


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff: ``kind`` is ``add``, ``del``, ``hunk``, ``file`` or ``same``."""

    kind: str
    text: str


def version_view(version: SchemaVersion, current: SchemaVersion | None) -> VersionView:
    """The history's row for ``version``."""
    return VersionView(
        version=version.version,
        hash=version.hash[:12],
        author=version.author,
        created=version.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        revision=str(version.revision),
        current=current is not None and current.version == version.version,
    )


def diff_lines(diff: SchemaDiff) -> tuple[DiffLine, ...]:
    """The diff's lines, each classified for colouring (no newline at their ends)."""
    out: list[DiffLine] = []
    for line in diff.unified.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append(DiffLine(kind, line))
    return tuple(out)


def version_number(text: str | None, name: str) -> int | None:
    """A version number from a query parameter (``None`` when absent).

    Raises:
        InvalidInputError: not a positive integer.
    """
    if text is None or not text.strip():
        return None
    try:
        number = int(text)
    except ValueError:
        raise InvalidInputError(f"{name} must be a schema version number, not {text!r}") from None
    if number < 1:
        raise InvalidInputError(f"{name} must be a schema version number (1 or more), not {number}")
    return number
