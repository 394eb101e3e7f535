"""Schema source text and positions: every schema diagnostic is built here.

A :class:`Source` maps 0-based character offsets to 1-based line and column numbers and cuts
the offending line out of the text, so errors read ``file:line:col: message`` with the line and a
caret under the problem.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from rebac.errors import Diagnostic

__all__ = ["MAX_SHOWN_LINE", "Source", "Span"]

MAX_SHOWN_LINE = 160
"""Characters of the offending line shown after the caret column (long lines are cut there)."""


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets in a :class:`Source`."""

    start: int
    end: int


class Source:
    """Schema text with a name, able to turn offsets into positions and diagnostics.

    Args:
        text: The whole schema text.
        name: The file name or label shown in diagnostics.
    """

    __slots__ = ("_line_starts", "name", "text")

    def __init__(self, text: str, name: str = "<schema>") -> None:
        self.text = text
        self.name = name
        starts = [0]
        index = text.find("\n")
        while index >= 0:
            starts.append(index + 1)
            index = text.find("\n", index + 1)
        self._line_starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        """Return the 1-based ``(line, column)`` of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """Return the text of a 1-based line, without its line break."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def diagnostic(self, offset: int, message: str) -> Diagnostic:
        """Build a positioned :class:`~rebac.errors.Diagnostic` for ``offset``."""
        if offset >= len(self.text.rstrip()) and self.text.strip():
            offset = len(self.text.rstrip())  # errors at end of file point just past the last text
        line, column = self.position(offset)
        shown = self.line_text(line)[: column + MAX_SHOWN_LINE]
        # One character per column keeps the caret aligned: tabs become spaces, controls a marker.
        shown = "".join(" " if ch == "\t" else ch if ch.isprintable() else "\ufffd" for ch in shown)
        return Diagnostic(message, self.name, line, column, shown)
