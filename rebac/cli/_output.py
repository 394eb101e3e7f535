"""How commands print: tables with a header row, JSON (``--json``), and progress bars.

JSON: :func:`plain` turns the SDK's values (msgspec Structs, :mod:`rebac.refs` values, datetimes,
enums) into JSON data with camelCase member names and references in the one text syntax
(``document:1#viewer@user:tom``). Progress bars (rich) go to standard error, and only when it is a
terminal and ``--quiet`` was not given.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
import msgspec

from rebac.refs import ObjectRef, Relationship, SubjectRef

__all__ = ["Progress", "camel", "echo_json", "echo_ndjson", "plain", "progress", "table", "when"]


def camel(name: str) -> str:
    """``checked_at`` → ``checkedAt``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def plain(value: Any) -> Any:
    """JSON data for ``value`` (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, ObjectRef | SubjectRef | Relationship):
        return str(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, msgspec.Struct):
        return {
            camel(f.name): plain(getattr(value, f.name))
            for f in msgspec.structs.fields(value)
            if not isinstance(getattr(value, f.name), BaseException)
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def echo_json(value: Any) -> None:
    """Print ``value`` as one indented JSON document."""
    click.echo(json.dumps(plain(value), indent=2, ensure_ascii=False))


def echo_ndjson(value: Any) -> None:
    """Print ``value`` as one JSON line (streams: lookups, watch, exports)."""
    click.echo(json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False))


def when(value: datetime | None, missing: str = "-") -> str:
    """A timestamp to the second in UTC, ``2026-01-31 12:00:00Z``; ``missing`` for none."""
    if value is None:
        return missing
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under an upper-case header row, columns aligned, two spaces apart."""
    cells = [[str(h).upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells)


@dataclass(slots=True)
class Progress:
    """Advance a bar (a no-op when the bar is off)."""

    _bar: Any = None
    _task: Any = None

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` more units of work."""
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """Change the bar's label (``committing``)."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)


@contextmanager
def progress(label: str, total: int | None, *, unit: str, quiet: bool) -> Iterator[Progress]:
    """A rich bar on standard error with the total, the rate and the ETA (unknown total: a count)."""
    if quiet or not sys.stderr.isatty():
        yield Progress()
        return
    from rich.console import Console  # noqa: PLC0415 - only a terminal pays for rich
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")

    if unit == "bytes":
        counted: list[Any] = [DownloadColumn(), TransferSpeedColumn()]
    else:
        counted = [MofNCompleteColumn() if total else TextColumn("{task.completed:,} " + unit), Rate()]
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *counted,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Bar(*columns, console=Console(stderr=True)) as bar:
        yield Progress(bar, bar.add_task(label, total=total))
