"""The ``rebac`` command: one click group whose commands are imported only when they run.

``rebac --help`` imports the command modules for their one-line help, and each of them imports
only click and small modules at the top; the SDK, the services and the store are imported inside
the command that uses them. Every error ends the command with one line (``Error: ...``) and a
non-zero status, never a traceback (``REBAC_DEBUG=1`` shows it).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Final

import click

from rebac import __version__
from rebac.cli._contexts import ContextsError
from rebac.cli._server import CliError
from rebac.errors import RebacError

__all__ = ["cli"]

# httpx imports its own command line (httpx._main: rich, pygments; about 40 to 70 ms here) whenever
# it is imported, and falls back to a stub when that import fails. The rebac process never runs
# httpx's command line, so its entry point skips it; nothing changes when httpx is already loaded.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

COMMANDS: Final = {
    # talks to a server (through rebac.client)
    "check": "rebac.cli.client_cmds:check_cmd",
    "expand": "rebac.cli.client_cmds:expand_cmd",
    "lookup": "rebac.cli.client_cmds:lookup_group",
    "watch": "rebac.cli.client_cmds:watch_cmd",
    "relationship": "rebac.cli.relationship_cmds:relationship_group",
    "write": "rebac.cli.relationship_cmds:write_cmd",
    "import": "rebac.cli.store_cmds:import_cmd",
    "export": "rebac.cli.store_cmds:export_cmd",
    "schema": "rebac.cli.schema_cmds:schema",
    "decisions": "rebac.cli.decisions_cmd:decisions_group",
    "identities": "rebac.cli.identities_cmd:identities_cmd",
    "review": "rebac.cli.identities_cmd:review_cmd",
    "reviews": "rebac.cli.identities_cmd:reviews_cmd",
    "blast-radius": "rebac.cli.admin_cmds:blast_radius_cmd",
    "least-privilege": "rebac.cli.analysis_cmds:least_privilege_cmd",
    "what-if": "rebac.cli.analysis_cmds:what_if_cmd",
    "keys": "rebac.cli.keys_cmds:keys_group",
    "context": "rebac.cli.context_cmds:context_group",
    "requests": "rebac.cli.requests_cmds:requests_group",
    "mcp-gateway": "rebac.cli.gateway_cmd:gateway_cmd",
    # local only
    "serve": "rebac.cli.serve_cmd:serve_cmd",
    "migrate": "rebac.cli.store_cmds:migrate_cmd",
    "gc": "rebac.cli.store_cmds:gc_cmd",
    "validate": "rebac.cli.validate_cmd:validate",
}
"""Command name → ``module:attribute`` of its click command."""


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported now."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; every error becomes one line and a non-zero exit."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (RebacError, ContextsError) as exc:
            raise CliError(str(exc)) from exc
        except Exception as exc:
            if os.environ.get("REBAC_DEBUG"):
                raise
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise CliError(f"unexpected error ({text}); REBAC_DEBUG=1 shows the traceback") from exc


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="rebac")
def cli() -> None:
    """rebac: relationship-based authorization for AI agents.

    Commands that read or change a server's state talk to it over the API: --endpoint and --key,
    REBAC_ENDPOINT and REBAC_KEY, or a saved context (rebac context set). serve, migrate, gc,
    validate, schema check/fmt and import --direct work locally.
    """
