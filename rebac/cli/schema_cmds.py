"""Schema commands. (Being written: see the schema work.)"""

from __future__ import annotations

import click

__all__ = ["schema"]


@click.group()
def schema() -> None:
    """Check, format, write and inspect schemas."""
