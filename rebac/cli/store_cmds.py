"""Store commands: migrate, import, export, gc. (Being written: see the store work.)"""

from __future__ import annotations

import click

__all__ = ["export_cmd", "gc_cmd", "import_cmd", "migrate_cmd"]


@click.command("migrate")
def migrate_cmd() -> None:
    """Migrate the database to the newest schema."""
    raise click.ClickException("not implemented yet")


@click.command("import")
def import_cmd() -> None:
    """Import relationships."""
    raise click.ClickException("not implemented yet")


@click.command("export")
def export_cmd() -> None:
    """Export relationships."""
    raise click.ClickException("not implemented yet")


@click.command("gc")
def gc_cmd() -> None:
    """Garbage-collect old revisions."""
    raise click.ClickException("not implemented yet")
