"""``rebac validate``. (Being written: see the engine work.)"""

from __future__ import annotations

import click

__all__ = ["validate"]


@click.command()
def validate() -> None:
    """Validate zed validation files."""
    raise click.ClickException("not implemented yet")
