"""``rebac requests list|show|create|approve|deny|cancel``: access requests (AuthZEN ARAP).

They talk to the server (``/access/v1/requests``) through :class:`rebac.client.Client`, with the
key's subject as the actor: ``create`` asks as the key's subject (the subject itself or one of
its principals), ``approve`` and ``deny`` decide as it (it must hold the approval permission,
``approve_access``, on the resource, and may decide neither her own request nor her agent's),
``cancel`` withdraws as it (the requester or the subject). Every rule is the server's; a refusal
is one line and changes nothing. Approving writes the time-bound grant with the request's state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, cast

import click

from rebac.cli._output import echo_json, table, when
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.client import AccessRequest, AccessRequestStatus, Entity

__all__ = ["requests_group"]

_STATUSES: Final = ("pending", "approved", "denied", "cancelled", "expired")
_HEADERS: Final = [
    "id",
    "status",
    "subject",
    "action",
    "resource",
    "until",
    "requester",
    "asked",
    "decided by",
]


def _name(entity: Entity) -> str:
    return f"{entity.type}:{entity.id}"


def _rows(found: list[AccessRequest]) -> list[list[object]]:
    return [
        [
            r.id,
            r.status,
            _name(r.subject),
            r.action,
            _name(r.resource),
            when(r.requested_until),
            r.requester or "-",
            when(r.created_at),
            r.decided_by or "-",
        ]
        for r in found
    ]


def _outcome(found: AccessRequest) -> str:
    """One line: what the request's state now means."""
    line = f"{found.status} {found.id}"
    if found.decided_by:
        line += f" by {found.decided_by}"
    if found.grant is not None:
        grant = f"{_name(found.resource)}#{found.grant.relation}@{_name(found.subject)}"
        line += f": grant {grant} until {when(found.grant.expires_at)} at revision {found.grant.revision}"
    elif found.status == "pending":
        line += f": {_name(found.subject)} asks {found.action} on {_name(found.resource)}"
        line += f" until {when(found.requested_until)}; expires {when(found.expires_at)} if nobody acts"
    return line


def _until(text: str | None) -> datetime | None:
    """``--until`` as an aware time (UTC when it names no zone)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--until") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@click.group("requests")
def requests_group() -> None:
    """Ask for, list, approve, deny and cancel access requests (as the key's subject)."""


@requests_group.command("list")
@click.option("--status", type=click.Choice(_STATUSES), help="Only this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@json_option
@server_options
def list_cmd(*, status: str | None, limit: int, as_json: bool, server: Server) -> None:
    """Requests the key's subject may see (every one for an admin key), newest first."""
    found: list[AccessRequest] = []
    with server.client() as client:
        for request in client.access_requests(status=cast("AccessRequestStatus | None", status)):
            found.append(request)
            if len(found) >= limit:
                break
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no access requests", err=True)
        return
    click.echo(table(_HEADERS, _rows(found)))


@requests_group.command("show")
@click.argument("request_id")
@json_option
@server_options
def show_cmd(*, request_id: str, as_json: bool, server: Server) -> None:
    """One request: who asked what, why, and where it stands."""
    with server.client() as client:
        found = client.access_request(request_id)
    if as_json:
        echo_json(found)
        return
    grant = "-"
    if found.grant is not None:
        grant = (
            f"{found.grant.relation} until {when(found.grant.expires_at)} at revision {found.grant.revision}"
        )
    rows = [
        ["id", found.id],
        ["status", found.status],
        ["subject", _name(found.subject)],
        ["chain", " -> ".join(_name(e) for e in found.chain) or "-"],
        ["action", found.action],
        ["resource", _name(found.resource)],
        ["relation", found.relation],
        ["until", when(found.requested_until)],
        ["justification", found.justification or "-"],
        ["requester", found.requester or "-"],
        ["asked", when(found.created_at)],
        ["expires", when(found.expires_at)],
        ["decided by", found.decided_by or "-"],
        ["decided", when(found.decided_at)],
        ["reason", found.reason or "-"],
        ["grant", grant],
    ]
    click.echo(table(["field", "value"], rows))


@requests_group.command("create")
@click.argument("subject")
@click.argument("action")
@click.argument("resource")
@click.option("--via", multiple=True, help="A principal of SUBJECT, nearest first (repeatable).")
@click.option("--relation", help="The relation the grant writes (default: ACTION).")
@click.option("--for", "seconds", type=click.IntRange(min=1), help="How long, in seconds.")
@click.option(
    "--until", "until_text", help="Until when (ISO 8601, e.g. 2030-01-01T12:00:00Z; UTC if no zone)."
)
@click.option("--justification", default="", help="Why, for the approver.")
@click.option("--evaluation-id", help="The denied evaluation this request answers.")
@json_option
@server_options
def create_cmd(
    *,
    subject: str,
    action: str,
    resource: str,
    via: tuple[str, ...],
    relation: str | None,
    seconds: int | None,
    until_text: str | None,
    justification: str,
    evaluation_id: str | None,
    as_json: bool,
    server: Server,
) -> None:
    """Ask that SUBJECT may ACTION on RESOURCE (as the key's subject: SUBJECT or a principal)."""
    if until_text is not None and seconds is not None:
        raise click.UsageError("give --for or --until, not both")
    until = _until(until_text)
    with server.client() as client:
        found = client.request_access(
            subject,
            action,
            resource,
            via=list(via) or None,
            relation=relation,
            duration=seconds,
            requested_until=until,
            justification=justification,
            evaluation_id=evaluation_id,
        )
    if as_json:
        echo_json(found)
        return
    click.echo(_outcome(found))


@requests_group.command("approve")
@click.argument("request_id")
@click.option("--reason", default="", help="A note kept with the decision.")
@json_option
@server_options
def approve_cmd(*, request_id: str, reason: str, as_json: bool, server: Server) -> None:
    """Approve a pending request as the key's subject: the time-bound grant is written."""
    with server.client() as client:
        found = client.approve_access_request(request_id, reason=reason)
    if as_json:
        echo_json(found)
        return
    click.echo(_outcome(found))


@requests_group.command("deny")
@click.argument("request_id")
@click.option("--reason", default="", help="A note kept with the decision.")
@json_option
@server_options
def deny_cmd(*, request_id: str, reason: str, as_json: bool, server: Server) -> None:
    """Deny a pending request as the key's subject; nothing is granted."""
    with server.client() as client:
        found = client.deny_access_request(request_id, reason=reason)
    if as_json:
        echo_json(found)
        return
    click.echo(_outcome(found))


@requests_group.command("cancel")
@click.argument("request_id")
@json_option
@server_options
def cancel_cmd(*, request_id: str, as_json: bool, server: Server) -> None:
    """Withdraw a pending request (as its requester or its subject)."""
    with server.client() as client:
        found = client.cancel_access_request(request_id)
    if as_json:
        echo_json(found)
        return
    click.echo(_outcome(found))
