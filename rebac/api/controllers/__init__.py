"""Thin controllers: DTO → validated values → engine/store call → DTO."""

from __future__ import annotations

from rebac.api.controllers.authzen import AuthZenController, WellKnownController
from rebac.api.controllers.decisions import DecisionsController
from rebac.api.controllers.health import HealthController
from rebac.api.controllers.keys import KeysController
from rebac.api.controllers.permissions import PermissionsController
from rebac.api.controllers.relationships import RelationshipsController
from rebac.api.controllers.schema import SchemaController
from rebac.api.controllers.watch import WatchController

__all__ = [
    "AuthZenController",
    "DecisionsController",
    "HealthController",
    "KeysController",
    "PermissionsController",
    "RelationshipsController",
    "SchemaController",
    "WatchController",
    "WellKnownController",
]
