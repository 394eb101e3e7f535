"""``rebac blast-radius``: what a subject can reach, or who can reach a resource, on a server.

It talks to ``POST /v1/blast-radius`` through :class:`rebac.client.Client`, fully consistent.
Text shows a table per resource type and permission with each entry's path; ``--json`` the
answer; ``--graph graphml|json-graph`` the reach as a graph document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from rebac.cli._output import echo_json, table
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.client import BlastRadius, ReachEntry

__all__ = ["blast_radius_cmd", "render_text"]

_SHORT: Final = {
    "PERMISSIONSHIP_HAS_PERMISSION": "yes",
    "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "conditional",
    "PERMISSIONSHIP_NO_PERMISSION": "no",
}


def _row(entry: ReachEntry, *, reverse: bool) -> list[str]:
    notes = []
    if entry.capped:
        notes.append("capped by delegation")
    if entry.missing_context:
        notes.append(f"missing context: {', '.join(sorted(entry.missing_context))}")
    effective = "-" if entry.effective is None else _SHORT[str(entry.effective)]
    who = str(entry.subject) if reverse else str(entry.resource)
    via = " > ".join(f"{step.source} -[{step.kind}]-> {step.target}" for step in entry.path) or "-"
    return [who, _SHORT[str(entry.raw)], effective, "; ".join(notes) or "-", via]


def render_text(result: BlastRadius) -> str:
    """A readable report: one table per resource type and permission, each entry with its path."""
    reverse = result.view == "who_can_reach"
    if reverse:
        lines = [f"who can reach {result.resource} (token {result.read_at})"]
    else:
        lines = [f"blast radius of {result.subject} (token {result.read_at})"]
        if result.delegated and not result.raw_only:
            lines.append("effective reach is capped by the subject's principals (acts_for)")
    for group in result.groups:
        lines.append("")
        size = f"{group.raw_count} raw, {group.effective_count} effective"
        lines.append(f"{group.resource_type}#{group.permission}: {size}")
        headers = ["subject" if reverse else "resource", "raw", "effective", "notes", "path"]
        lines.append(table(headers, [_row(e, reverse=reverse) for e in group.entries]))
    total = sum(len(group.entries) for group in result.groups)
    lines.append("")
    lines.append(f"{total} entries, {result.nodes_visited} graph nodes visited, budget {result.budget}")
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)


@click.command("blast-radius")
@click.argument("subject", required=False)
@click.option("--reverse", "reverse", metavar="RESOURCE[#PERM]", help="Who can reach this resource instead.")
@click.option("--resource-type", help="Only this resource type.")
@click.option("--permission", help="Only this permission or relation.")
@click.option("--raw-only", is_flag=True, help="Skip the effective (delegation-capped) reach.")
@click.option("--budget", type=click.IntRange(min=1), default=None, help="Graph nodes to visit at most.")
@click.option(
    "--graph", "graph", type=click.Choice(["graphml", "json-graph"]), help="Print a graph document."
)
@json_option
@server_options
def blast_radius_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    subject: str | None,
    reverse: str | None,
    resource_type: str | None,
    permission: str | None,
    raw_only: bool,
    budget: int | None,
    graph: str | None,
    as_json: bool,
    server: Server,
) -> None:
    """Everything SUBJECT can reach, raw and effective, with a path each.

    With --reverse RESOURCE[#PERM]: who (humans and agents) can reach that resource instead.
    Work and output are bounded by --budget; a truncated answer says so.
    """
    from rebac.client import Consistency  # noqa: PLC0415 - the SDK is imported when a command runs

    if (subject is None) == (reverse is None):
        raise click.UsageError("give exactly one of SUBJECT or --reverse RESOURCE[#PERM]")
    resource = None
    if reverse is not None:
        resource, _, perm = reverse.partition("#")
        permission = perm or permission
    full = Consistency.fully_consistent()
    with server.client() as client:
        if graph is not None:
            document = client.blast_radius_graph(
                subject,
                graph_format="graphml" if graph == "graphml" else "json-graph",
                resource=resource,
                reverse=reverse is not None,
                resource_type=resource_type,
                permission=permission,
                budget=budget,
                raw_only=raw_only,
                consistency=full,
            )
            click.echo(document)
            return
        result = client.blast_radius(
            subject,
            resource=resource,
            reverse=reverse is not None,
            resource_type=resource_type,
            permission=permission,
            budget=budget,
            raw_only=raw_only,
            consistency=full,
        )
    if as_json:
        echo_json(result)
    else:
        click.echo(render_text(result))
    if result.message:
        click.echo(result.message, err=True)
