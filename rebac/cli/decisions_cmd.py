"""``rebac decisions``: query the decision log directly in the configured store (no server needed).

Filters as ``GET /v1/decisions``; newest first. Output: one line per decision (default), a JSON
array (``--json``) or NDJSON (``--ndjson``, every match when ``--limit`` is not given).
``--prune`` drops the whole days older than the retention (``REBAC_DECISION_RETENTION_DAYS``).
"""

from __future__ import annotations

from typing import Final

import click
import msgspec

from rebac.api.convert import decision_dto
from rebac.cli._runtime import cli_errors, load_settings, with_services
from rebac.services.core import Services
from rebac.services.decisions import decision_filter
from rebac.services.types import DecisionRecord

__all__ = ["decisions_cmd"]

_DEFAULT_LIMIT: Final = 50


def _line(record: DecisionRecord) -> str:
    when = record.decided_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return (
        f"{when}  {record.result.value:<11}  {record.resource}#{record.permission}@{record.subject}"
        f"  {record.reason}  [{record.decision_id}]"
    )


@click.command("decisions")
@click.option("--subject", help="Only this subject (e.g. agent:a7).")
@click.option("--resource", help="Only this resource (e.g. document:d1).")
@click.option("--permission", help="Only this permission.")
@click.option(
    "--result", type=click.Choice(["allowed", "denied", "conditional", "error"]), help="Only this result."
)
@click.option("--since", help="From this time (ISO 8601, inclusive; UTC without an offset).")
@click.option("--until", help="Before this time (ISO 8601, exclusive).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many (default 50).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--ndjson", "as_ndjson", is_flag=True, help="Print NDJSON (all matches unless --limit).")
@click.option("--prune", is_flag=True, help="Drop the days older than the retention, then exit.")
def decisions_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    subject: str | None,
    resource: str | None,
    permission: str | None,
    result: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    as_json: bool,
    as_ndjson: bool,
    prune: bool,
) -> None:
    """Show recorded decisions, newest first."""
    if as_json and as_ndjson:
        raise click.UsageError("--json and --ndjson are exclusive")
    settings = load_settings()
    if prune:
        days = settings.decisions.retention_days
        if days <= 0:
            raise click.UsageError("retention is off (REBAC_DECISION_RETENTION_DAYS <= 0)")

        async def drop(services: Services) -> int:
            services.decisions.log()  # a store without a decision log is an error, not "0 days"
            return await services.decisions.prune()

        click.echo(f"dropped {with_services(settings, drop)} days of decisions older than {days} days")
        return
    with cli_errors():
        flt = decision_filter(subject, resource, permission, result, since, until)
    wanted = limit if limit is not None or as_ndjson else _DEFAULT_LIMIT

    async def action(services: Services) -> list[DecisionRecord]:
        return [record async for record in services.decisions.export(flt, total=wanted)]

    records = with_services(settings, action)
    if as_ndjson:
        for record in records:
            click.echo(msgspec.json.encode(decision_dto(record)).decode())
    elif as_json:
        click.echo(msgspec.json.encode([decision_dto(r) for r in records]).decode())
    else:
        for record in records:
            click.echo(_line(record))
