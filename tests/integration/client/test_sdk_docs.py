"""Every ``python`` block of ``docs/sdk.md`` runs, in order, in one namespace, against a live server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from client_live import Live

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"
SECTIONS = (
    "Install",
    "A first check",
    "Read-your-writes",
    "Fail-closed `allowed`",
    "Pagination",
    "Watch",
    "Spawning and retiring an agent",
    "AuthZEN",
    "Error handling",
    "Timeouts and retries",
    "The async client",
    "Injecting a transport",
)


def blocks(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced ``python`` block."""
    pattern = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in pattern.finditer(text)]


def test_the_guide_has_every_section() -> None:
    headings = re.findall(r"^## (.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)


def test_every_python_example_runs_against_a_live_server(fresh_live: Live) -> None:
    found = blocks(DOC.read_text(encoding="utf-8"))
    assert len(found) >= 12
    namespace: dict[str, Any] = {"URL": fresh_live.url, "KEY": fresh_live.key, "__name__": "sdk_docs"}
    for line, code in found:
        padded = "\n" * line + code  # tracebacks name the line of docs/sdk.md
        exec(compile(padded, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
