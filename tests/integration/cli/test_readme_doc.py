"""README.md is well-formed CommonMark, and the walkthrough test runs every shell block in it.

The README is parsed with markdown-it-py (CommonMark): its headings are the documented ones, every
code fence is closed where it should be (an unclosed fence would swallow the rest of the page),
and the ``sh`` blocks that ``tests/integration/api/test_readme.py`` runs are exactly the shell
blocks of the page, besides the first one (the two commands that start the service and the tests).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from test_readme import readme_script

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SHELL = {"sh", "bash", "shell", "console"}
HEADINGS = [
    (1, "rebac"),
    (2, "A first check"),
    (2, "The schema"),
    (2, "Delegation"),
    (2, "In the path of agents"),
    (2, "Admin views"),
    (2, "Performance"),
    (2, "Layout"),
]


@pytest.fixture(scope="module")
def tokens() -> list[Token]:
    return MarkdownIt("commonmark").parse(README.read_text(encoding="utf-8"))


def headings(tokens: list[Token]) -> list[tuple[int, str]]:
    return [
        (int(tok.tag[1]), tokens[i + 1].content) for i, tok in enumerate(tokens) if tok.type == "heading_open"
    ]


def fences(tokens: list[Token]) -> list[Token]:
    return [tok for tok in tokens if tok.type == "fence"]


def test_the_headings_are_the_documented_ones(tokens: list[Token]) -> None:
    assert headings(tokens) == HEADINGS


def test_every_fence_is_closed_on_a_line_of_its_own(tokens: list[Token]) -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    found = fences(tokens)
    assert found, "the README has no code blocks"
    for fence in found:
        assert fence.map is not None
        start, end = fence.map
        closing = lines[end - 1].strip()
        assert closing == fence.markup, (
            f"the fence opened on line {start + 1} is not closed by {fence.markup!r}"
        )
    # no text hides behind a fence marker (the bug that turned half the page into one block)
    markers = [n + 1 for n, line in enumerate(lines) if re.match(r"\s*```\S*\s+\S", line)]
    assert markers == [], f"text after a fence marker on lines {markers}"
    assert sum(1 for line in lines if line.strip().startswith("```")) == 2 * len(found)


def test_the_first_block_runs_the_service_and_the_tests(tokens: list[Token]) -> None:
    first = fences(tokens)[0]
    commands = [line.split("#")[0].strip() for line in first.content.splitlines() if line.strip()]
    assert commands == ["REBAC_PRESHARED_KEY=dev-key ./scripts/run", "./scripts/test"]


def test_the_walkthrough_runs_every_shell_block(tokens: list[Token]) -> None:
    shell = [tok.content for tok in fences(tokens) if tok.info.strip() in SHELL]
    script = readme_script("http://127.0.0.1:8080")
    walked = shell[1:]  # the first block starts the service the walkthrough test starts itself
    assert len(walked) >= 5
    for block in walked:
        assert block in script, f"the walkthrough does not run:\n{block}"
    # and it runs nothing that is not a block of the page
    assert script.count("\n") <= sum(block.count("\n") for block in walked) + 10
    assert all(tok.info.strip() in {*SHELL, ""} for tok in fences(tokens)), "an unexpected fence language"
