"""``rebac validate FILE.yaml ...``: run ``zed validate`` files against the real engine.

Each file is loaded into a fresh, isolated store: a new in-memory store (default), or PostgreSQL
(``--store postgres``: ``REBAC_DATABASE_URL`` when set, which must then hold no relationships,
else a temporary embedded server). The relationships a file wrote are deleted before the next file
runs. Prints one line per file, the failures with their file and line, and ends with
``N passed, M failed``; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import click

from rebac.config import EngineSettings, Settings
from rebac.engine import CheckCache
from rebac.errors import RebacError, ValidationFileError
from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import Failure, FileReport, run_file
from rebac.store.base import RelationshipFilter, TupleStore
from rebac.store.memory import MemoryTupleStore

__all__ = ["validate"]


@asynccontextmanager
async def _postgres() -> AsyncIterator[TupleStore]:
    from rebac.store.factory import open_store  # noqa: PLC0415 - only this mode needs the driver

    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="rebac-validate-") as home:
        if settings.database.url is None:
            settings = replace(settings, database=replace(settings.database, home=Path(home)))
        async with open_store(settings, migrate=settings.database.url is None) as store:
            head = await store.head_revision()
            async for _ in store.query(RelationshipFilter(), revision=head, limit=1):
                raise click.ClickException(
                    "the PostgreSQL store already holds relationships; validate needs an empty database"
                )
            yield store


async def _clear(store: TupleStore, types: Sequence[str]) -> None:
    for type_name in types:
        await store.delete_matching(RelationshipFilter(resource_type=type_name))


async def _validate_one(path: Path, store: TupleStore | None, settings: EngineSettings) -> FileReport:
    try:
        vf = load_validation_file(path)
    except ValidationFileError as exc:
        report = FileReport(str(path))
        prefix = f"{exc.source}:{exc.line}:{exc.column}: "
        report.failures.append(Failure(exc.source, exc.line, exc.message.removeprefix(prefix)))
        return report
    cache = CheckCache(settings.cache_entries) if settings.cache_enabled else None
    if store is None:
        return await run_file(vf, MemoryTupleStore(quantization_seconds=0), settings=settings, cache=cache)
    try:
        return await run_file(vf, store, settings=settings, cache=cache)
    finally:
        types = {item.relationship.resource.type for item in vf.relationships}
        await _clear(store, sorted(types))


async def _run(paths: Sequence[Path], kind: str, settings: EngineSettings) -> list[FileReport]:
    reports: list[FileReport] = []
    if kind == "memory":
        reports.extend([await _validate_one(path, None, settings) for path in paths])
        return reports
    async with _postgres() as store:
        reports.extend([await _validate_one(path, store, settings) for path in paths])
    return reports


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
def validate(files: tuple[Path, ...], store_kind: str, no_cache: bool) -> None:
    """Validate zed validation files (schema, relationships, assertions, expected relations)."""
    settings = Settings.from_env().engine
    if no_cache:
        settings = replace(settings, cache_enabled=False)
    try:
        reports = asyncio.run(_run(files, store_kind, settings))
    except RebacError as exc:
        raise click.ClickException(str(exc)) from None
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
