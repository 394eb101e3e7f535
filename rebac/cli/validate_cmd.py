"""``rebac validate FILE.yaml ...``: run ``zed validate`` files against the real engine.

Each file is loaded into a fresh, isolated store: a new in-memory store (default), or PostgreSQL
(``--store postgres``: ``REBAC_DATABASE_URL`` when set, which must then hold no relationships,
else a temporary embedded server). The relationships a file wrote are deleted before the next file
runs. Prints one line per file, the failures with their file and line, and ends with
``N passed, M failed``; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from rebac.config import EngineSettings, Settings
from rebac.errors import RebacError

if TYPE_CHECKING:
    from rebac.services.validation.run import FileReport

__all__ = ["validate"]


async def _run(
    paths: Sequence[Path], kind: Literal["memory", "postgres"], settings: EngineSettings
) -> list[FileReport]:
    from rebac.cli._runtime import scratch_stores  # noqa: PLC0415 - the engine loads when it runs
    from rebac.services.validation.run import validate_path  # noqa: PLC0415

    async with scratch_stores(kind) as (fresh, shared):
        return [
            await validate_path(path, await fresh(), settings=settings, clear_after=shared) for path in paths
        ]


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--store",
    "store_kind",
    type=click.Choice(["memory", "postgres"]),
    default="memory",
    show_default=True,
    help="Where each file's relationships are loaded.",
)
@click.option("--no-cache", is_flag=True, help="Disable the check cache.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def validate(files: tuple[Path, ...], store_kind: str, no_cache: bool, as_json: bool) -> None:
    """Validate zed validation files (schema, relationships, assertions, expected relations)."""
    settings = Settings.from_env().engine
    if no_cache:
        settings = replace(settings, cache_enabled=False)
    try:
        reports = asyncio.run(_run(files, "postgres" if store_kind == "postgres" else "memory", settings))
    except RebacError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        body = [
            {
                "source": r.source,
                "passed": r.passed,
                "assertions": r.assertions,
                "failures": [{"line": f.line, "message": f.message} for f in r.failures],
            }
            for r in reports
        ]
        click.echo(json.dumps(body, indent=2))
        if not all(r.passed for r in reports):
            raise SystemExit(1)
        return
    passed = 0
    for report in reports:
        if report.passed:
            passed += 1
            click.echo(f"PASS {report.source} ({report.assertions} assertions)")
            continue
        click.echo(f"FAIL {report.source}")
        for failure in report.failures:
            click.echo(f"  {failure.render()}")
    failed = len(reports) - passed
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)
