"""``rebac schema``: check and format schema files; write and inspect the stored versions.

``check`` and ``fmt`` work on local files only. ``write``, ``read``, ``diff`` and ``history`` use
the store (the embedded PostgreSQL when ``REBAC_DATABASE_URL`` is unset, as every store command).
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import click

from rebac.cli._runtime import load_settings, with_services
from rebac.errors import SchemaError, SchemaVersionNotFoundError, UnsafeSchemaChangeError
from rebac.services.core import Services
from rebac.services.language import check_text, dropped_comments, format_text, lint_text
from rebac.services.schemas import diff_versions
from rebac.services.types import SchemaVersion

__all__ = ["schema"]

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def _read(path: Path) -> str:
    # Undecodable bytes become U+FFFD, which the lexer reports with a position.
    return path.read_bytes().decode("utf-8", errors="replace")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@click.group()
def schema() -> None:
    """Check, format, write and inspect schemas."""


@schema.command("check")
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option(
    "--strict",
    is_flag=True,
    help="Also report warnings (schemas SpiceDB accepts but that are likely mistakes) and fail on them.",
)
def check_cmd(files: tuple[Path, ...], strict: bool) -> None:
    """Compile each FILE and report every error as file:line:col with the offending line."""
    failed = 0
    for path in files:
        try:
            text = _read(path)
            compiled = check_text(text, str(path))
            warnings = lint_text(text, str(path)) if strict else []
        except SchemaError as error:
            failed += 1
            for diagnostic in error.diagnostics:
                click.echo(diagnostic.render(), err=True)
            click.echo(f"{path}: {_count(len(error.diagnostics), 'error')}", err=True)
            continue
        if warnings:
            failed += 1
            for diagnostic in warnings:
                click.echo(diagnostic.render(), err=True)
            click.echo(f"{path}: {_count(len(warnings), 'warning')} (--strict)", err=True)
            continue
        definitions = _count(compiled.definitions, "definition")
        click.echo(f"{path}: ok ({definitions}, {_count(compiled.caveats, 'caveat')})")
    if failed:
        raise click.exceptions.Exit(1)


@schema.command("fmt")
@click.argument("file", type=_FILE)
@click.option("--write", "-w", is_flag=True, help="Rewrite FILE in place instead of printing.")
@click.option(
    "--drop-comments",
    is_flag=True,
    help="With --write: rewrite even though // and /* */ comments are lost (only /** doc */ is kept).",
)
def fmt_cmd(file: Path, write: bool, drop_comments: bool) -> None:
    """Print FILE in canonical form (or rewrite it with --write).

    The canonical form keeps ``/** doc */`` comments on definitions, relations, permissions and
    caveats; other comments are dropped, so --write refuses to lose them unless --drop-comments.
    """
    text = _read(file)
    try:
        formatted = format_text(text, str(file))
    except SchemaError as error:
        for diagnostic in error.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise click.exceptions.Exit(1) from None
    if not write:
        click.echo(formatted, nl=False)
        return
    comments = dropped_comments(text, str(file))
    if comments and not drop_comments:
        for diagnostic in comments:
            click.echo(diagnostic.render(), err=True)
        click.echo(f"{file}: not rewritten; pass --drop-comments to rewrite anyway", err=True)
        raise click.exceptions.Exit(1)
    file.write_text(formatted, encoding="utf-8")
    click.echo(f"{file}: formatted", err=True)


# --- store-backed: versions ----------------------------------------------------------------------

CLI_AUTHOR = "cli"
"""The author recorded for schema versions written with ``rebac schema write``."""

_VERSION = click.IntRange(min=1)


def _print_refusal(error: UnsafeSchemaChangeError) -> None:
    listed: list[dict[str, str]] = error.details.get("relationships", [])
    count = int(error.details.get("count", len(listed)))
    click.echo(f"refused: the schema change would orphan {_count(count, 'stored relationship')}:", err=True)
    for entry in listed:
        click.echo(f"  {entry['relationship']}  ({entry['reason']})", err=True)
    if count > len(listed):
        click.echo(f"  ... and {count - len(listed)} more", err=True)
    click.echo("delete them first, or pass --force to write the schema anyway", err=True)


@schema.command("write")
@click.argument("file", type=_FILE)
@click.option("--force", is_flag=True, help="Write even if stored relationships would be orphaned.")
def write_cmd(file: Path, force: bool) -> None:
    """Store FILE as the new current schema version (author ``cli``).

    Refused, listing the offending relationships and exiting 1, when relationships stored under
    the current version would no longer be allowed; ``--force`` writes it anyway.
    """
    text = _read(file)
    try:
        check_text(text, str(file))
    except SchemaError as error:
        for diagnostic in error.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise click.exceptions.Exit(1) from None

    async def action(services: Services) -> SchemaVersion | UnsafeSchemaChangeError:
        try:
            version, _ = await services.schemas.write(text, author=CLI_AUTHOR, force=force, source=str(file))
        except UnsafeSchemaChangeError as refusal:
            return refusal
        return version

    outcome = with_services(load_settings(), action)
    if isinstance(outcome, UnsafeSchemaChangeError):
        _print_refusal(outcome)
        raise click.exceptions.Exit(1)
    click.echo(f"wrote schema version {outcome.version} (sha256 {outcome.hash})")


@schema.command("read")
@click.option("--version", "number", type=_VERSION, help="Read this version instead of the current one.")
def read_cmd(number: int | None) -> None:
    """Print the current schema (or version V) exactly as it was written."""

    async def action(services: Services) -> SchemaVersion:
        if number is not None:
            return await services.schemas.version(number)
        try:
            return await services.schemas.current()
        except SchemaVersionNotFoundError:
            raise click.ClickException("no schema has been written yet") from None

    version = with_services(load_settings(), action)
    click.echo(f"version {version.version} (sha256 {version.hash})", err=True)
    click.echo(version.text, nl=not version.text.endswith("\n"))


@schema.command("diff")
@click.argument("old", type=_VERSION)
@click.argument("new", type=_VERSION)
def diff_cmd(old: int, new: int) -> None:
    """Print a unified diff from stored version OLD to version NEW (nothing when they are equal)."""

    async def action(services: Services) -> tuple[SchemaVersion, SchemaVersion]:
        return await services.schemas.version(old), await services.schemas.version(new)

    before, after = with_services(load_settings(), action)
    click.echo(diff_versions(before, after).unified, nl=False)


@schema.command("history")
def history_cmd() -> None:
    """List every stored version, oldest first; ``*`` marks the current one."""

    async def action(services: Services) -> tuple[list[SchemaVersion], SchemaVersion | None]:
        return await services.schemas.history()

    versions, current = with_services(load_settings(), action)
    if not versions:
        click.echo("no schema has been written yet", err=True)
        return
    for version in versions:
        mark = "*" if current is not None and version.version == current.version else " "
        written = version.created_at.astimezone(UTC).isoformat(timespec="seconds")
        click.echo(
            f"{mark} {version.version:>4}  {written}  {version.hash[:12]}  "
            f"revision {version.revision.value}  {version.author}"
        )
