"""``rebac requests list|approve|deny``: access requests (AuthZEN ARAP) in the configured store.

Like ``rebac review``, these run against the database directly (an operator's tool; no server
needed). ``--as`` names the approver; the service applies the same rules as the API: the approver
must hold the approval permission (``approve_access``) on the resource and may decide neither her
own request nor her agent's. Approving writes the time-bound grant with the request's new state.
"""

from __future__ import annotations

import json
from typing import Any

import click

from rebac.cli._runtime import cli_errors, load_settings, with_services
from rebac.refs import parse_subject
from rebac.services.core import Services
from rebac.services.requests import STATUSES, AccessRequest, as_json

__all__ = ["requests_group"]


def _line(request: AccessRequest) -> str:
    created = request.created_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    until = request.requested_until.isoformat(timespec="seconds").replace("+00:00", "Z")
    who = f" by {request.decided_by}" if request.decided_by else ""
    return (
        f"{request.request_id}  {request.status:<9}{who}  {request.resource}#{request.relation}"
        f"@{request.subject} ({request.action}) until {until}  asked {created}  {request.justification}"
    )


@click.group("requests")
def requests_group() -> None:
    """List, approve and deny access requests."""


@requests_group.command("list")
@click.option("--status", type=click.Choice(sorted(STATUSES)), help="Only this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, help="At most this many.")
@click.option("--json", "as_json_output", is_flag=True, help="Print a JSON array.")
def list_cmd(*, status: str | None, limit: int, as_json_output: bool) -> None:
    """Requests, newest first (unattended ones past their expiry are expired first)."""

    async def action(services: Services) -> list[AccessRequest]:
        return await services.requests.list(status=status, before=None, limit=limit)

    found = with_services(load_settings(), action)
    if as_json_output:
        click.echo(json.dumps([as_json(r) for r in found], indent=2))
        return
    for request in found:
        click.echo(_line(request))


def _decide(request_id: str, approver: str, reason: str, *, approve: bool) -> AccessRequest:
    with cli_errors():
        who = parse_subject(approver)

    async def action(services: Services) -> AccessRequest:
        current = await services.engines.current()
        decide: Any = services.requests.approve if approve else services.requests.deny
        decided: AccessRequest = await decide(current, request_id, approver=who, reason=reason)
        return decided

    return with_services(load_settings(), action)


@requests_group.command("approve")
@click.argument("request_id")
@click.option("--as", "approver", required=True, help="The approver (e.g. user:bob).")
@click.option("--reason", default="", help="A note kept with the decision.")
def approve_cmd(*, request_id: str, approver: str, reason: str) -> None:
    """Approve a pending request: the grant is written, expiring at the requested end."""
    decided = _decide(request_id, approver, reason, approve=True)
    click.echo(f"approved {decided.request_id}: grant at revision {decided.grant_revision}")


@requests_group.command("deny")
@click.argument("request_id")
@click.option("--as", "approver", required=True, help="The approver (e.g. user:bob).")
@click.option("--reason", default="", help="A note kept with the decision.")
def deny_cmd(*, request_id: str, approver: str, reason: str) -> None:
    """Deny a pending request; nothing is granted."""
    decided = _decide(request_id, approver, reason, approve=False)
    click.echo(f"denied {decided.request_id}")
