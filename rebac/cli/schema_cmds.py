"""``rebac schema``: check and format schema files.

``check`` and ``fmt`` work on local files only. Store-backed subcommands (``write``, ``read``,
``diff``, ``history``) attach to the same :data:`schema` group from their own module.
"""

from __future__ import annotations

from pathlib import Path

import click

from rebac.errors import SchemaError
from rebac.schema import compile_schema, format_schema
from rebac.schema.lexer import plain_comments
from rebac.schema.source import Source

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
def check_cmd(files: tuple[Path, ...]) -> None:
    """Compile each FILE and report every error as file:line:col with the offending line."""
    failed = 0
    for path in files:
        try:
            compiled = compile_schema(_read(path), str(path))
        except SchemaError as error:
            failed += 1
            for diagnostic in error.diagnostics:
                click.echo(diagnostic.render(), err=True)
            click.echo(f"{path}: {_count(len(error.diagnostics), 'error')}", err=True)
            continue
        definitions = _count(len(compiled.definitions), "definition")
        click.echo(f"{path}: ok ({definitions}, {_count(len(compiled.caveats), 'caveat')})")
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
        formatted = format_schema(compile_schema(text, str(file)))
    except SchemaError as error:
        for diagnostic in error.diagnostics:
            click.echo(diagnostic.render(), err=True)
        raise click.exceptions.Exit(1) from None
    if not write:
        click.echo(formatted, nl=False)
        return
    comments = plain_comments(text)
    if comments and not drop_comments:
        source = Source(text, str(file))
        for offset in comments:
            diagnostic = source.diagnostic(
                offset, "this comment would be dropped (only /** doc */ comments are kept)"
            )
            click.echo(diagnostic.render(), err=True)
        click.echo(f"{file}: not rewritten; pass --drop-comments to rewrite anyway", err=True)
        raise click.exceptions.Exit(1)
    file.write_text(formatted, encoding="utf-8")
    click.echo(f"{file}: formatted", err=True)
