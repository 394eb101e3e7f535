"""The ``rebac`` command: one click group; each command family lives in its own module."""

from __future__ import annotations

import click

from rebac import __version__
from rebac.cli.admin_cmds import blast_radius_cmd
from rebac.cli.client_cmds import check_cmd, expand_cmd, lookup_group, watch_cmd, write_cmd
from rebac.cli.decisions_cmd import decisions_cmd
from rebac.cli.identities_cmd import identities_cmd, review_cmd
from rebac.cli.keys_cmds import keys_group
from rebac.cli.requests_cmds import requests_group
from rebac.cli.schema_cmds import schema
from rebac.cli.serve_cmd import serve_cmd
from rebac.cli.store_cmds import export_cmd, gc_cmd, import_cmd, migrate_cmd
from rebac.cli.validate_cmd import validate

__all__ = ["cli"]


@click.group()
@click.version_option(__version__, prog_name="rebac")
def cli() -> None:
    """rebac: relationship-based authorization for AI agents."""


cli.add_command(migrate_cmd)
cli.add_command(import_cmd)
cli.add_command(export_cmd)
cli.add_command(gc_cmd)
cli.add_command(schema)
cli.add_command(validate)
cli.add_command(serve_cmd)
cli.add_command(keys_group)
cli.add_command(check_cmd)
cli.add_command(write_cmd)
cli.add_command(lookup_group)
cli.add_command(expand_cmd)
cli.add_command(watch_cmd)
cli.add_command(blast_radius_cmd)
cli.add_command(identities_cmd)
cli.add_command(review_cmd)
cli.add_command(decisions_cmd)
cli.add_command(requests_group)
