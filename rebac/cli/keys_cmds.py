"""``rebac keys create|list|revoke``: scoped API keys, administered over ``/v1/keys``.

The key text is printed once, at creation; only its sha256 is stored. A key may act for a
subject (``--subject user:alice``): reviews and approvals record it. The first key cannot be made
over the API without a key, so ``--direct`` works on the configured database instead (the
embedded one when ``REBAC_DATABASE_URL`` is unset), and a running server sees the key within
seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from rebac.cli._output import echo_json, table, when
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.services.keys import Keys

__all__ = ["keys_group"]

direct_option = click.option(
    "--direct", is_flag=True, help="Work on the configured database, not over the API (bootstrap)."
)


def _direct(action: Any) -> Any:
    from rebac.cli._runtime import load_settings, with_keys  # noqa: PLC0415 - the store, when run

    return with_keys(load_settings(), action)


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke scoped API keys."""


@keys_group.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="Scope (repeatable): check, write, schema, admin, metrics.",
)
@click.option("--name", default="", help="A label for people (who or what uses the key).")
@click.option("--subject", default=None, help="The identity the key acts for (e.g. user:alice).")
@direct_option
@json_option
@server_options
def create_cmd(
    scopes: tuple[str, ...], name: str, subject: str | None, *, direct: bool, as_json: bool, server: Server
) -> None:
    """Create a key and print it (shown once; only its hash is stored)."""
    if direct:
        from rebac.refs import parse_subject, shown_text, stored  # noqa: PLC0415
        from rebac.services.keys import validate_scopes  # noqa: PLC0415

        validate_scopes(scopes)  # before the database is opened
        owner = stored(parse_subject(subject)) if subject else None  # free ids as the API stores them

        async def action(keys: Keys) -> tuple[str, str, list[str], str | None, datetime]:
            made, kept = await keys.create(scopes, name, subject=owner)
            who = None if kept.subject is None else shown_text(str(kept.subject))
            return made.text, made.key_id, sorted(kept.scopes), who, kept.created_at

        text, key_id, granted, who, created = _direct(action)
    else:
        with server.client() as client:
            key = client.create_key(scopes, name, subject)
        text, key_id, granted, who, created = (
            key.key,
            key.key_id,
            sorted(key.scopes),
            key.subject,
            key.created_at,
        )
    if as_json:
        echo_json(
            {
                "key": text,
                "keyId": key_id,
                "scopes": granted,
                "name": name,
                "subject": who,
                "createdAt": created,
            }
        )
        return
    click.echo(text)
    acting = f", acting for {who}" if who else ""
    click.echo(
        f"created key {key_id} with scopes {', '.join(granted)}{acting}; it is shown only once", err=True
    )


@keys_group.command("list")
@direct_option
@json_option
@server_options
def list_cmd(*, direct: bool, as_json: bool, server: Server) -> None:
    """List keys: id, scopes, subject, state, created, name (never secrets or hashes)."""
    if direct:
        from rebac.refs import shown_text  # noqa: PLC0415

        async def action(keys: Keys) -> list[dict[str, Any]]:
            return [
                {
                    "keyId": k.key_id,
                    "scopes": sorted(k.scopes),
                    "name": k.name,
                    "subject": None if k.subject is None else shown_text(str(k.subject)),
                    "createdAt": k.created_at,
                    "revokedAt": k.revoked_at,
                }
                for k in await keys.list()
            ]

        found: list[dict[str, Any]] = _direct(action)
    else:
        with server.client() as client:
            found = [
                {
                    "keyId": k.key_id,
                    "scopes": sorted(k.scopes),
                    "name": k.name,
                    "subject": k.subject,
                    "createdAt": k.created_at,
                    "revokedAt": k.revoked_at,
                }
                for k in client.list_keys()
            ]
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no keys", err=True)
        return
    rows = [
        [
            k["keyId"],
            ",".join(k["scopes"]),
            k["subject"] or "-",
            "active" if k["revokedAt"] is None else f"revoked {when(k['revokedAt'])}",
            when(k["createdAt"]),
            k["name"] or "-",
        ]
        for k in found
    ]
    click.echo(table(["key id", "scopes", "subject", "state", "created", "name"], rows))


@keys_group.command("revoke")
@click.argument("key_id")
@direct_option
@json_option
@server_options
def revoke_cmd(key_id: str, *, direct: bool, as_json: bool, server: Server) -> None:
    """Revoke KEY_ID (servers stop accepting it within seconds)."""
    if direct:

        async def action(keys: Keys) -> bool:
            return await keys.revoke(key_id)

        if not _direct(action):
            raise click.ClickException(f"no active key {key_id!r}")
        revoked_at: datetime | None = None
    else:
        with server.client() as client:
            revoked_at = client.revoke_key(key_id).revoked_at
    if as_json:
        echo_json({"keyId": key_id, "revokedAt": revoked_at})
        return
    click.echo(f"revoked {key_id}")
