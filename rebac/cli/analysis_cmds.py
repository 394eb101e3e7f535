"""``rebac least-privilege`` and ``rebac what-if``: the two analyses, on a server.

Both talk to the server through :class:`rebac.client.Client` (``POST /v1/least-privilege`` and
``POST /v1/what-if``, scope ``admin``). ``what-if`` reads its files here first: a schema that
does not compile, or a changes line that does not parse, is one line ``file:line:col: message``
on standard error and exit status 1, before anything is sent.

Exit status of ``what-if``: 0 when at most ``--allow-flips`` decisions would flip, at most
``--allow-unreplayable`` could not be replayed and the window was replayed whole; otherwise
:data:`GATE_EXIT_CODE` (3), so it can gate a CI pipeline. 1 is an error, 2 a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from rebac.cli._output import echo_json, table, when
from rebac.cli._server import Server, json_option, server_options
from rebac.errors import SchemaError

if TYPE_CHECKING:
    from rebac.client import LeastPrivilegeReport, WhatIfReport

__all__ = ["GATE_EXIT_CODE", "least_privilege_cmd", "render_least_privilege", "render_what_if", "what_if_cmd"]

GATE_EXIT_CODE: Final = 3
"""``rebac what-if``'s exit status when more decisions would flip than ``--allow-flips`` permits."""

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def render_least_privilege(report: LeastPrivilegeReport) -> str:
    """A readable report: the summary line, then tables of used, unused and removable grants."""
    lines = [report.message, f"raw reach (before delegation caps): {report.held_raw} permissions"]
    if report.delegates:
        lines.append("acting for it: " + ", ".join(str(d) for d in report.delegates))
    lines.append("")
    lines.append(f"used ({report.used}):")
    rows = [[u.resource, u.permission, u.uses, when(u.last_used)] for u in report.used_permissions]
    lines.append(table(["resource", "permission", "uses", "last used"], rows) if rows else "  none")
    lines.append("")
    lines.append(f"unused ({len(report.unused)}):")
    rows = [
        [str(u.resource), u.permission, "yes" if u.conditional else "no", " > ".join(u.carried_by) or "-"]
        for u in report.unused
    ]
    lines.append(table(["resource", "permission", "conditional", "carried by"], rows) if rows else "  none")
    lines.append("")
    lines.append(
        f"grants to remove ({len(report.removable)}; "
        f"proven: the {report.protected} used checks stay allowed without them):"
    )
    lines.append(table(["relationship"], [[r] for r in report.removable]) if report.removable else "  none")
    return "\n".join(lines)


def render_what_if(report: WhatIfReport) -> str:
    """A readable report: what was proposed, the flips, the unreplayable decisions, the summary."""
    proposed = []
    if report.schema_changed:
        proposed.append(f"a schema replacing version {report.schema_version}")
    if report.changes:
        proposed.append(f"{report.changes} relationship changes")
    window = f"the last {report.since} ({report.decisions} decisions, {report.unique} distinct checks)"
    if report.skipped:
        window += f"; {report.skipped} access-request steps are no checks and were not replayed"
    lines = [f"what-if: {window}, proposing {' and '.join(proposed) or 'nothing'}"]
    if report.flips:
        lines.append("")
        lines.append(f"flips ({report.flipped}):")
        rows = [
            [f.decision_id, when(f.decided_at), f.subject, f.resource, f.permission, f.old, f.new, f.kind]
            for f in report.flips
        ]
        headers = ["decision", "decided", "subject", "resource", "permission", "old", "new", "kind"]
        lines.append(table(headers, rows))
        lines.append("subjects affected: " + ", ".join(report.subjects_affected))
    if report.unreplayable:
        lines.append("")
        lines.append(f"not replayable ({len(report.unreplayable)}):")
        rows = [
            [u.decision_id, u.subject, u.resource, u.permission, u.old, u.reason, u.message]
            for u in report.unreplayable
        ]
        headers = ["decision", "subject", "resource", "permission", "old", "reason", "message"]
        lines.append(table(headers, rows))
    lines.append("")
    lines.append(report.message)
    return "\n".join(lines)


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _fail(line: str) -> None:
    click.echo(line, err=True)
    raise click.exceptions.Exit(1)


@click.command("least-privilege")
@click.argument("subject")
@click.option("--since", default="30d", show_default=True, help="The window: 30d, 24h, 90m, 45s, 2w.")
@json_option
@server_options
def least_privilege_cmd(subject: str, since: str, *, as_json: bool, server: Server) -> None:
    """What SUBJECT holds against what it used in the window, and the grants it can lose.

    Held: its effective reach (after delegation caps). Used: its allowed decisions in the
    decision log. The grants to remove were proven on the server: without all of them, every
    check the subject (and each subject acting for it) was allowed in the window stays allowed.
    """
    with server.client() as client:
        report = client.least_privilege(subject, since=since)
    if as_json:
        echo_json(report)
    else:
        click.echo(render_least_privilege(report))
    if report.truncated:
        click.echo(f"truncated: {report.truncated_reason}", err=True)


def _local_checks(schema_file: Path | None, changes_file: Path | None) -> tuple[str | None, str | None]:
    """The two files' texts, each checked here first (one ``file:line:col: message`` line on error)."""
    from rebac.services.language import check_text  # noqa: PLC0415 - loads when the command runs
    from rebac.services.overlay import ChangeLineError, parse_changes  # noqa: PLC0415

    schema_text = changes_text = None
    if schema_file is not None:
        schema_text = _read(schema_file)
        try:
            check_text(schema_text, str(schema_file))
        except SchemaError as error:
            first = error.diagnostics[0].render().splitlines()[0] if error.diagnostics else str(error)
            _fail(first)
    if changes_file is not None:
        changes_text = _read(changes_file)
        try:
            parse_changes(changes_text, source=str(changes_file))
        except ChangeLineError as error:
            _fail(error.message)
    return schema_text, changes_text


@click.command("what-if")
@click.option("--schema", "schema_file", type=_FILE, help="The proposed schema (.zed).")
@click.option(
    "--relationships",
    "changes_file",
    type=_FILE,
    help="Proposed changes, one per line: touch REL, delete REL, or a bare REL (a touch).",
)
@click.option("--since", default="24h", show_default=True, help="The window: 30d, 24h, 90m, 45s, 2w.")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Replay at most this many decisions (newest first)."
)
@click.option(
    "--allow-flips", type=click.IntRange(min=0), default=0, show_default=True, help="Flips that still exit 0."
)
@click.option(
    "--allow-unreplayable",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Decisions that could not be replayed that still exit 0.",
)
@json_option
@server_options
def what_if_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    schema_file: Path | None,
    changes_file: Path | None,
    since: str,
    limit: int | None,
    allow_flips: int,
    allow_unreplayable: int,
    *,
    as_json: bool,
    server: Server,
) -> None:
    """Replay the logged decisions of the window against a proposed schema and/or relationship changes.

    Lists every decision that would flip (allowed to denied, denied to allowed) with the subjects
    affected, on an overlay of the server's snapshot: nothing is changed. Exits 3 when more than
    --allow-flips decisions would flip, more than --allow-unreplayable could not be replayed, or
    the window held more decisions than were replayed; 0 otherwise.
    """
    from rebac.client import BadRequest  # noqa: PLC0415 - the SDK is imported when a command runs

    if schema_file is None and changes_file is None:
        raise click.UsageError("give --schema, --relationships, or both")
    schema_text, changes_text = _local_checks(schema_file, changes_file)
    try:
        with server.client() as client:
            report = client.what_if(schema=schema_text, relationships=changes_text, since=since, limit=limit)
    except BadRequest as error:
        line, column = error.extensions.get("line"), error.extensions.get("column")
        if changes_file is not None and isinstance(line, int) and isinstance(column, int):
            _fail(f"{changes_file}:{line}:{column}: {error.extensions.get('reason') or error.problem.detail}")
        raise
    if as_json:
        echo_json(report)
    else:
        click.echo(render_what_if(report))
    reasons = []
    if report.flipped > allow_flips:
        reasons.append(f"{report.flipped} decisions would flip (--allow-flips {allow_flips})")
    if len(report.unreplayable) > allow_unreplayable:
        reasons.append(
            f"{len(report.unreplayable)} could not be replayed (--allow-unreplayable {allow_unreplayable})"
        )
    if report.truncated:
        reasons.append(f"only the newest {report.limit} decisions of the window were replayed")
    if reasons:
        click.echo("what-if gate failed: " + "; ".join(reasons), err=True)
        raise click.exceptions.Exit(GATE_EXIT_CODE)
