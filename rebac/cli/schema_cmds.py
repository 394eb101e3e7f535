"""``rebac schema``: check and format schema files; write and inspect a server's stored versions.

``check`` and ``fmt`` work on local files only. ``write``, ``read``, ``diff`` and ``history`` talk
to the server through :class:`rebac.client.Client` (``--endpoint``/``--key``/``--context``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rebac.cli._output import echo_json, table, when
from rebac.cli._server import Server, json_option, server_options
from rebac.errors import SchemaError

if TYPE_CHECKING:
    from rebac.client import ProblemError

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
@json_option
def check_cmd(files: tuple[Path, ...], *, strict: bool, as_json: bool) -> None:
    """Compile each FILE and report every error as file:line:col with the offending line."""
    from rebac.services.language import check_text, lint_text  # noqa: PLC0415 - loads when it runs

    failed = 0
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            text = _read(path)
            compiled = check_text(text, str(path))
            warnings = lint_text(text, str(path)) if strict else []
        except SchemaError as error:
            failed += 1
            results.append(
                {"file": str(path), "ok": False, "errors": [d.render() for d in error.diagnostics]}
            )
            if not as_json:
                for diagnostic in error.diagnostics:
                    click.echo(diagnostic.render(), err=True)
                click.echo(f"{path}: {_count(len(error.diagnostics), 'error')}", err=True)
            continue
        rendered = [d.render() for d in warnings]
        results.append(
            {
                "file": str(path),
                "ok": not warnings,
                "definitions": compiled.definitions,
                "caveats": compiled.caveats,
                "warnings": rendered,
            }
        )
        if warnings:
            failed += 1
            if not as_json:
                for line in rendered:
                    click.echo(line, err=True)
                click.echo(f"{path}: {_count(len(warnings), 'warning')} (--strict)", err=True)
            continue
        if not as_json:
            definitions = _count(compiled.definitions, "definition")
            click.echo(f"{path}: ok ({definitions}, {_count(compiled.caveats, 'caveat')})")
    if as_json:
        echo_json(results)
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
    from rebac.services.language import dropped_comments, format_text  # noqa: PLC0415

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


# --- on the server: versions -----------------------------------------------------------------------

_VERSION = click.IntRange(min=1)


def _print_refusal(error: ProblemError) -> None:
    listed: list[Any] = list(error.extensions.get("relationships") or [])
    count = int(error.extensions.get("count") or len(listed))
    click.echo(f"refused: the schema change would orphan {_count(count, 'stored relationship')}:", err=True)
    for entry in listed:
        if isinstance(entry, dict):
            click.echo(f"  {entry.get('relationship')}  ({entry.get('reason')})", err=True)
        else:
            click.echo(f"  {entry}", err=True)
    if count > len(listed):
        click.echo(f"  ... and {count - len(listed)} more", err=True)
    click.echo("delete them first, or pass --force to write the schema anyway", err=True)


@schema.command("write")
@click.argument("file", type=_FILE)
@click.option("--force", is_flag=True, help="Write even if stored relationships would be orphaned.")
@click.option("--expect-version", type=click.IntRange(min=0), help="Refuse unless this version is current.")
@json_option
@server_options
def write_cmd(file: Path, *, force: bool, expect_version: int | None, as_json: bool, server: Server) -> None:
    """Store FILE as the server's new current schema version (compiled here first).

    Refused, listing the offending relationships and exiting 1, when relationships stored under
    the current version would no longer be allowed; ``--force`` writes it anyway.
    """
    from rebac.client import Conflict  # noqa: PLC0415 - the SDK is imported when a command runs
    from rebac.services.language import check_text  # noqa: PLC0415

    text = _read(file)
    try:
        check_text(text, str(file))
    except SchemaError as error:
        for diagnostic in error.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise click.exceptions.Exit(1) from None
    try:
        with server.client() as client:
            result = client.write_schema(text, force=force, expected_version=expect_version)
    except Conflict as refusal:
        if refusal.problem.slug != "unsafe-schema-change":
            raise
        _print_refusal(refusal)
        raise click.exceptions.Exit(1) from None
    if as_json:
        echo_json(result)
        return
    click.echo(f"wrote schema version {result.version} (sha256 {result.hash}); token: {result.written_at}")


@schema.command("read")
@click.option("--version", "number", type=_VERSION, help="Read this version instead of the current one.")
@json_option
@server_options
def read_cmd(number: int | None, *, as_json: bool, server: Server) -> None:
    """Print the current schema (or version V) exactly as it was written."""
    from rebac.client import NotFound  # noqa: PLC0415

    try:
        with server.client() as client:
            info = client.read_schema(number)
    except NotFound as exc:
        if number is None:
            raise click.ClickException("no schema has been written yet") from None
        raise click.ClickException(f"no schema version {number} ({exc.detail or exc.title})") from None
    if as_json:
        echo_json(info)
        return
    click.echo(f"version {info.version} (sha256 {info.hash})", err=True)
    click.echo(info.text, nl=not info.text.endswith("\n"))


@schema.command("diff")
@click.argument("old", type=_VERSION)
@click.argument("new", type=_VERSION, required=False)
@click.option("--file", "file_", type=_FILE, help="Compare version OLD with this file instead.")
@json_option
@server_options
def diff_cmd(old: int, new: int | None, *, file_: Path | None, as_json: bool, server: Server) -> None:
    """Print a unified diff from stored version OLD to version NEW (or --file; nothing when equal)."""
    if (new is None) == (file_ is None):
        raise click.UsageError("give exactly one of NEW or --file")
    with server.client() as client:
        if file_ is not None:
            found = client.diff_schema(_read(file_), from_version=old)
        else:
            found = client.diff_schema(from_version=old, to_version=new)
    if as_json:
        echo_json(found)
        return
    click.echo(found.diff, nl=False)


@schema.command("history")
@json_option
@server_options
def history_cmd(*, as_json: bool, server: Server) -> None:
    """List every stored version, oldest first; the current one is marked."""
    with server.client() as client:
        versions = client.schema_versions()
    if as_json:
        echo_json(versions)
        return
    if not versions:
        click.echo("no schema has been written yet", err=True)
        return
    rows = [
        [v.version, "yes" if v.current else "", when(v.created_at), v.hash[:12], v.author] for v in versions
    ]
    click.echo(table(["version", "current", "written", "sha256", "author"], rows))
