"""``rebac decisions list|show|export|prune``: a server's decision log.

``list``, ``show`` and ``export`` talk to the server (``GET /v1/decisions``,
``GET /v1/decisions/{id}``, ``GET /v1/decisions/export``) through :class:`rebac.client.Client`;
filters as the API's, newest first. ``prune`` works locally on the configured database (like
``rebac gc``): it drops the whole days older than ``REBAC_DECISION_RETENTION_DAYS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from rebac.cli._output import echo_json, echo_ndjson, table, when
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.client import DecisionRecord
    from rebac.services.core import Services

__all__ = ["decisions_group"]

_DEFAULT_LIMIT: Final = 50
F = TypeVar("F", bound=Callable[..., Any])


def _filters(func: F) -> F:
    options = [
        click.option("--subject", help="Only this subject (e.g. agent:a7)."),
        click.option("--resource", help="Only this resource (e.g. document:d1)."),
        click.option("--permission", help="Only this permission."),
        click.option(
            "--result",
            type=click.Choice(["allowed", "denied", "conditional", "error"]),
            help="Only this result.",
        ),
        click.option("--since", help="From this time (ISO 8601, inclusive; UTC without an offset)."),
        click.option("--until", help="Before this time (ISO 8601, exclusive)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _row(record: DecisionRecord) -> list[str]:
    return [
        when(record.decided_at),
        record.result,
        f"{record.resource}#{record.permission}@{record.subject}",
        record.reason,
        record.decision_id,
    ]


_HEADERS: Final = ["decided", "result", "check", "reason", "decision id"]


@click.group("decisions")
def decisions_group() -> None:
    """Query a server's decision log (list, show, export) or prune it locally."""


@decisions_group.command("list")
@_filters
@click.option("--limit", type=click.IntRange(min=1), default=_DEFAULT_LIMIT, show_default=True)
@json_option
@server_options
def list_cmd(*, limit: int, as_json: bool, server: Server, **filters: str | None) -> None:
    """Recorded decisions, newest first."""
    with server.client() as client:
        records = []
        for record in client.decisions(**filters, page_size=min(limit, 1000)):
            records.append(record)
            if len(records) >= limit:
                break
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("no decisions match", err=True)
        return
    click.echo(table(_HEADERS, [_row(r) for r in records]))


@decisions_group.command("show")
@click.argument("decision_id")
@json_option
@server_options
def show_cmd(decision_id: str, *, as_json: bool, server: Server) -> None:
    """One decision by its id, with its delegation chain and context."""
    with server.client() as client:
        record = client.decision(decision_id)
    if as_json:
        echo_json(record)
        return
    rows: list[list[object]] = [
        ["decision id", record.decision_id],
        ["decided", when(record.decided_at)],
        ["check", f"{record.resource}#{record.permission}@{record.subject}"],
        ["result", record.result],
        ["reason", record.reason],
        ["source", record.source],
        ["caller", record.caller or "-"],
        ["latency", f"{record.latency_ms:.2f} ms"],
        ["decision point", record.decision_point or "-"],
        ["revision", "-" if record.revision is None else record.revision],
        ["schema version", "-" if record.schema_version is None else record.schema_version],
        ["context", "-" if not record.context else record.context],
    ]
    rows.extend([f"chain hop {i}", hop] for i, hop in enumerate(record.chain, start=1))
    click.echo(table(["field", "value"], rows))


@decisions_group.command("export")
@_filters
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many (default: all).")
@server_options
def export_cmd(*, limit: int | None, server: Server, **filters: str | None) -> None:
    """Every matching decision as NDJSON (one JSON object per line), newest first."""
    count = 0
    with server.client() as client, client.export_decisions(**filters, limit=limit) as records:
        for record in records:
            echo_ndjson(record)
            count += 1
    click.echo(f"exported {count} decisions", err=True)


@decisions_group.command("prune")
@json_option
def prune_cmd(*, as_json: bool) -> None:
    """Drop the days older than the retention (local: the configured database)."""
    from rebac.cli._runtime import load_settings, with_services  # noqa: PLC0415 - the store, when run

    settings = load_settings()
    days = settings.decisions.retention_days
    if days <= 0:
        raise click.UsageError("retention is off (REBAC_DECISION_RETENTION_DAYS <= 0)")

    async def drop(services: Services) -> int:
        services.decisions.log()  # a store without a decision log is an error, not "0 days"
        return await services.decisions.prune()

    dropped = with_services(settings, drop)
    if as_json:
        echo_json({"droppedDays": dropped, "retentionDays": days})
        return
    click.echo(f"dropped {dropped} days of decisions older than {days} days")
