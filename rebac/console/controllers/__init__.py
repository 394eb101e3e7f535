"""The console's page controllers; :data:`PAGES` lists the ones behind the session guard.

To add a page, write a controller module here and add its class to :data:`PAGES` (see
``docs/console.md``).
"""

from __future__ import annotations

from typing import Final

from litestar import Controller

from rebac.console.controllers.blast_radius import BlastRadiusController
from rebac.console.controllers.decisions import DecisionsController
from rebac.console.controllers.identities import IdentitiesController
from rebac.console.controllers.requests import RequestsController
from rebac.console.controllers.schema import SchemaController

__all__ = ["PAGES"]

PAGES: Final[tuple[type[Controller], ...]] = (
    DecisionsController,
    IdentitiesController,
    RequestsController,
    BlastRadiusController,
    SchemaController,
)
"""Signed-in page controllers, mounted under ``/console`` in this order (nav order is in ``base.html``)."""
