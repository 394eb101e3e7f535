"""``rebac context set|use|list|show|delete``: saved servers, like ``zed context``.

A context is a name, an endpoint and a key, kept in the contexts file (mode 0600; see
:mod:`rebac.cli._contexts`). Commands that talk to a server use the current context unless
``--endpoint``/``--key`` (or ``REBAC_ENDPOINT``/``REBAC_KEY``) or ``--context NAME`` say otherwise.
Keys are printed masked unless ``--reveal``.
"""

from __future__ import annotations

import click

from rebac.cli._contexts import Context, ContextFile, config_path
from rebac.cli._output import echo_json, table
from rebac.cli._server import json_option

__all__ = ["context_group"]


def _masked(key: str | None, *, reveal: bool) -> str:
    if not key:
        return "-"
    if reveal:
        return key
    return f"{key[:4]}…{key[-2:]}" if len(key) > 8 else "****"


def _json(context: Context, *, current: bool, reveal: bool) -> dict[str, object]:
    return {
        "name": context.name,
        "endpoint": context.endpoint,
        "key": _masked(context.key, reveal=reveal) if context.key else None,
        "current": current,
    }


@click.group("context")
def context_group() -> None:
    """Save servers (endpoint and key) under a name, and pick the current one."""


@context_group.command("set")
@click.argument("name")
@click.option("--endpoint", required=True, help="Server URL, e.g. http://127.0.0.1:8080.")
@click.option("--key", default=None, help="API key to send (kept in a file of mode 0600).")
def set_cmd(name: str, endpoint: str, key: str | None) -> None:
    """Save (or replace) context NAME and make it the current one."""
    if not endpoint.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--endpoint")
    saved = ContextFile.load(config_path())
    saved.contexts[name] = Context(name, endpoint.rstrip("/"), key or None)
    saved.current = name
    saved.save()
    click.echo(f"context {name} saved and current ({saved.path})")


@context_group.command("use")
@click.argument("name")
def use_cmd(name: str) -> None:
    """Make context NAME the current one."""
    saved = ContextFile.load(config_path())
    saved.get(name)
    saved.current = name
    saved.save()
    click.echo(f"current context: {name}")


@context_group.command("list")
@click.option("--reveal", is_flag=True, help="Print the keys in full.")
@json_option
def list_cmd(*, reveal: bool, as_json: bool) -> None:
    """List the saved contexts; * marks the current one."""
    saved = ContextFile.load(config_path())
    contexts = sorted(saved.contexts.values(), key=lambda c: c.name)
    if as_json:
        echo_json([_json(c, current=c.name == saved.current, reveal=reveal) for c in contexts])
        return
    if not contexts:
        click.echo("no contexts saved; add one with `rebac context set NAME --endpoint URL --key KEY`")
        return
    rows = [
        ["*" if c.name == saved.current else "", c.name, c.endpoint, _masked(c.key, reveal=reveal)]
        for c in contexts
    ]
    click.echo(table(["current", "name", "endpoint", "key"], rows))


@context_group.command("show")
@click.argument("name", required=False)
@click.option("--reveal", is_flag=True, help="Print the key in full.")
@json_option
def show_cmd(name: str | None, *, reveal: bool, as_json: bool) -> None:
    """Show context NAME (default: the current one)."""
    saved = ContextFile.load(config_path())
    context = saved.active(name)
    if context is None:
        raise click.ClickException("no current context; pick one with `rebac context use NAME`")
    if as_json:
        echo_json(_json(context, current=context.name == saved.current, reveal=reveal))
        return
    rows = [
        ["name", context.name],
        ["endpoint", context.endpoint],
        ["key", _masked(context.key, reveal=reveal)],
        ["current", "yes" if context.name == saved.current else "no"],
    ]
    click.echo(table(["field", "value"], rows))


@context_group.command("delete")
@click.argument("name")
def delete_cmd(name: str) -> None:
    """Delete context NAME (if it was current, no context is current)."""
    saved = ContextFile.load(config_path())
    saved.get(name)
    del saved.contexts[name]
    if saved.current == name:
        saved.current = None
    saved.save()
    click.echo(f"context {name} deleted")
