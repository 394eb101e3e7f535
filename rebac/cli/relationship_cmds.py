"""Relationship commands against a server: ``rebac relationship read|write|delete|delete-matching``.

``rebac write`` is kept as a short form of ``rebac relationship write``. Relationships use the one
text syntax (``document:1#viewer@user:tom``, ``...[on_weekday:{"day":"mon"}]``,
``...[expiration:2030-01-01T00:00:00Z]``); each write is atomic and prints its token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from rebac.cli._output import echo_json, echo_ndjson, table, when
from rebac.cli._server import Server, json_option, server_options
from rebac.cli.client_cmds import consistency, full_option, token_option

if TYPE_CHECKING:
    from rebac.client import RelationshipFilter

__all__ = ["relationship_filter", "relationship_group", "write_cmd"]

_FILE = click.File("r", encoding="utf-8")


def relationship_filter(resource: str, relation: str | None, subject: str | None) -> RelationshipFilter:
    """A filter from ``TYPE[:ID]``, an optional relation and an optional ``TYPE[:ID][#RELATION]``."""
    from rebac.client import RelationshipFilter  # noqa: PLC0415 - the SDK is imported when a command runs

    resource_type, _, resource_id = resource.partition(":")
    if not resource_type:
        raise click.BadParameter(
            "give a resource type (document) or object (document:1)", param_hint="RESOURCE"
        )
    fields: dict[str, Any] = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "relation": relation or "",
    }
    if subject:
        head, hash_, subject_relation = subject.partition("#")
        subject_type, _, subject_id = head.partition(":")
        fields |= {"subject_type": subject_type, "subject_id": subject_id}
        if hash_:
            fields["subject_relation"] = subject_relation
    return RelationshipFilter(**fields)


def _texts(relationships: tuple[str, ...], file_: Any) -> list[str]:
    texts = list(relationships)
    if file_ is not None:
        texts += [line.strip() for line in file_ if line.strip() and not line.strip().startswith("//")]
    if not texts:
        raise click.UsageError("give at least one relationship (or --file)")
    return texts


def _write(server: Server, texts: list[str], operation: str, *, as_json: bool) -> None:
    from rebac.client import Update  # noqa: PLC0415

    make = {"touch": Update.touch, "create": Update.create, "delete": Update.delete}[operation]
    with server.client() as client:
        token = client.write_relationships([make(text) for text in texts])
    if as_json:
        echo_json({"operation": operation, "updates": len(texts), "writtenAt": token})
        return
    verb = {"touch": "wrote", "create": "created", "delete": "deleted"}[operation]
    noun = "relationship" if len(texts) == 1 else "relationships"
    click.echo(f"{verb} {len(texts)} {noun}; token: {token}")


def _write_command(name: str, operation: str, summary: str) -> click.Command:
    @click.command(name, help=summary)
    @click.argument("relationships", nargs=-1)
    @click.option("--file", "file_", type=_FILE, help="Also read relationships from FILE, one per line.")
    @json_option
    @server_options
    def command(relationships: tuple[str, ...], *, file_: Any, as_json: bool, server: Server) -> None:
        _write(server, _texts(relationships, file_), operation, as_json=as_json)

    return command


@click.command("write")
@click.argument("relationships", nargs=-1)
@click.option("--delete", is_flag=True, help="Delete the relationships instead of touching them.")
@click.option("--create", is_flag=True, help="CREATE (fail if one exists) instead of TOUCH.")
@click.option("--file", "file_", type=_FILE, help="Also read relationships from FILE, one per line.")
@json_option
@server_options
def write_cmd(
    relationships: tuple[str, ...], *, delete: bool, create: bool, file_: Any, as_json: bool, server: Server
) -> None:
    """Write RELATIONSHIPS atomically (document:1#viewer@user:tom ...); prints the write's token."""
    if delete and create:
        raise click.UsageError("--delete and --create are exclusive")
    operation = "delete" if delete else "create" if create else "touch"
    _write(server, _texts(relationships, file_), operation, as_json=as_json)


@click.group("relationship")
def relationship_group() -> None:
    """Read, write and delete relationships."""


relationship_group.add_command(
    _write_command("write", "touch", "Create or replace RELATIONSHIPS atomically; prints the token.")
)
relationship_group.add_command(
    _write_command("create", "create", "Create RELATIONSHIPS atomically; fails (409) if one exists.")
)
relationship_group.add_command(
    _write_command("delete", "delete", "Delete RELATIONSHIPS (exact text) atomically; prints the token.")
)


@relationship_group.command("read")
@click.argument("resource")
@click.argument("relation", required=False)
@click.argument("subject", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@token_option
@full_option
@json_option
@server_options
def read_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    resource: str,
    relation: str | None,
    subject: str | None,
    limit: int | None,
    token: str | None,
    fully_consistent: bool,
    as_json: bool,
    server: Server,
) -> None:
    """Relationships of RESOURCE (TYPE or TYPE:ID), optionally RELATION and SUBJECT (TYPE[:ID][#REL]).

    JSON: one relationship per line.
    """
    flt = relationship_filter(resource, relation, subject)
    read = consistency(token, full=fully_consistent)
    rows: list[list[str]] = []
    with server.client() as client:
        for count, rel in enumerate(client.read_relationships(flt, consistency=read), start=1):
            if as_json:
                echo_ndjson(rel)
            else:
                caveat = "-" if rel.caveat is None else str(rel.caveat)
                rows.append([str(rel.resource), rel.relation, str(rel.subject), caveat, when(rel.expires_at)])
            if limit is not None and count >= limit:
                break
    if as_json:
        return
    if not rows:
        click.echo("no relationships match", err=True)
        return
    click.echo(table(["resource", "relation", "subject", "caveat", "expires"], rows))


@relationship_group.command("delete-matching")
@click.argument("resource")
@click.argument("relation", required=False)
@click.argument("subject", required=False)
@json_option
@server_options
def delete_matching_cmd(
    resource: str, relation: str | None, subject: str | None, *, as_json: bool, server: Server
) -> None:
    """Delete every relationship of RESOURCE (TYPE or TYPE:ID) [RELATION] [SUBJECT], atomically."""
    flt = relationship_filter(resource, relation, subject)
    with server.client() as client:
        result = client.delete_relationships(flt)
    if as_json:
        echo_json(result)
        return
    click.echo(f"deleted {result.deleted_count} relationships; token: {result.deleted_at}")
