"""The CLI's output helpers: tables, JSON of SDK values, and the progress bar's quiet rules."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from rebac.cli._output import plain, progress, table, when
from rebac.client import CheckResult, Permissionship
from rebac.refs import parse_relationship


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_has_an_upper_case_header_row_and_aligned_columns() -> None:
    text = table(["key id", "state"], [["k1", "active"], ["longer-id", "revoked"]])
    assert text.splitlines() == ["KEY ID     STATE", "k1         active", "longer-id  revoked"]


def test_times_are_utc_to_the_second() -> None:
    assert when(datetime(2026, 1, 31, 12, 0, 5, 123, tzinfo=UTC)) == "2026-01-31 12:00:05Z"
    assert when(None) == "-"
    assert when(None, "never") == "never"


def test_json_of_sdk_values_is_camel_case_with_references_as_text() -> None:
    result = CheckResult(
        permissionship=Permissionship.HAS_PERMISSION, checked_at="t1", missing_context=("day",)
    )
    assert plain(result)["checkedAt"] == "t1"
    assert plain(result)["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert plain(result)["missingContext"] == ["day"]
    rel = parse_relationship("document:1#viewer@user:tom[expiration:2030-01-01T00:00:00Z]")
    assert (
        json.dumps(plain({"r": rel}))
        == '{"r": "document:1#viewer@user:tom[expiration:2030-01-01T00:00:00Z]"}'
    )


def test_the_bar_shows_total_rate_and_eta_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    with progress("importing", 2048, unit="bytes", quiet=False) as bar:
        bar.advance(1024)
        bar.describe("committing")
    shown = err.getvalue()
    assert "committing" in shown
    assert "2.0 kB" in shown  # the total
    assert "ETA" in shown
    counted = Terminal()
    monkeypatch.setattr("sys.stderr", counted)
    with progress("exporting", None, unit="relationships", quiet=False) as bar:
        bar.advance(10)
    assert "10 relationships" in counted.getvalue()
    assert "relationships/s" in counted.getvalue()  # the rate


@pytest.mark.parametrize("quiet", [True, False])
def test_the_bar_is_quiet_with_quiet_or_off_a_terminal(monkeypatch: pytest.MonkeyPatch, quiet: bool) -> None:
    err = Terminal() if quiet else io.StringIO()  # --quiet on a terminal; no flag off a terminal
    monkeypatch.setattr("sys.stderr", err)
    with progress("exporting", None, unit="relationships", quiet=quiet) as bar:
        bar.advance(10)
    assert err.getvalue() == ""
