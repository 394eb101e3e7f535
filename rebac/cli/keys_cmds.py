"""``rebac keys create|list|revoke``: scoped API keys, stored hashed in the database.

The key text is printed once, at creation; only its sha256 is stored. Keys live in the configured
database (the embedded one when ``REBAC_DATABASE_URL`` is unset), so a running server sees them.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from rebac.cli._runtime import cli_errors, load_settings, with_keys
from rebac.services.keys import SCOPES, GeneratedKey, Keys, validate_scopes
from rebac.services.types import ApiKey

__all__ = ["keys_group"]


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke scoped API keys."""


@keys_group.command("create")
@click.option(
    "--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="Scope (repeatable)."
)
@click.option("--name", default="", help="A label for people (who or what uses the key).")
def create_cmd(scopes: tuple[str, ...], name: str) -> None:
    """Create a key with the given scopes and print it (shown once; only its hash is stored)."""
    with cli_errors():
        validate_scopes(scopes)  # before the database is opened

    async def action(keys: Keys) -> tuple[GeneratedKey, ApiKey]:
        return await keys.create(scopes, name)

    key, stored = with_keys(load_settings(), action)
    granted = stored.scopes
    click.echo(key.text)
    click.echo(
        f"created key {key.key_id} with scopes {', '.join(sorted(granted))}; it is shown only once", err=True
    )


@keys_group.command("list")
def list_cmd() -> None:
    """List keys: id, scopes, name, created, revoked (never secrets or hashes)."""

    async def action(keys: Keys) -> Sequence[ApiKey]:
        return await keys.list()

    for key in with_keys(load_settings(), action):
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        scopes = ",".join(sorted(key.scopes))
        click.echo(f"{key.key_id}  {scopes:<24} {state:<34} {key.created_at.isoformat()}  {key.name}")


@keys_group.command("revoke")
@click.argument("key_id")
def revoke_cmd(key_id: str) -> None:
    """Revoke KEY_ID (servers stop accepting it within seconds)."""

    async def action(keys: Keys) -> bool:
        return await keys.revoke(key_id)

    if not with_keys(load_settings(), action):
        raise click.ClickException(f"no active key {key_id!r}")
    click.echo(f"revoked {key_id}")
