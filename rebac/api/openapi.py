"""The served OpenAPI document: its configuration, and what the handlers alone do not say.

- Every operation needs the bearer key (the document's global ``security``) except those of
  handlers without a guard (``/healthz``, ``/readyz``, ``/.well-known/*``): :func:`mark_public`
  gives those ``security: []``, derived from the guards, so the document cannot drift from them.
- Every operation with a JSON body documents the 415 problem a non-JSON ``Content-Type`` gets.
- The schemas say what the server enforces, so a request valid by the document passes the
  server's syntax checks and one the server refuses for its shape is invalid by the document:
  v1 request objects refuse unknown members (``additionalProperties: false``, as the DTOs'
  ``forbid_unknown_fields``); names and ids carry the patterns of :mod:`rebac.refs`; page sizes,
  watch limits and timeouts their bounds (:class:`_Document` adds these when it is rendered).
  AuthZEN's shapes are left as their DTOs say: one shape serves a single evaluation (a malformed
  entity is a 400) and the items of a batch (a per-item error in a 200), as that spec requires.
  Whether a *name* exists in the current schema is no part of the document: a well-formed but
  unknown type or permission stays a 400 ``unknown-type`` / ``unknown-relation`` problem.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, OpenAPI, Operation, SecurityScheme
from litestar.routes import HTTPRoute

from rebac import __version__, limits
from rebac.api import dto
from rebac.api.controllers.watch import MAX_CHANGES, MAX_TIMEOUT
from rebac.api.problems import problem_responses_for
from rebac.config import Settings
from rebac.refs import CAVEAT_NAME_RE, RELATION_RE, TYPE_RE

__all__ = ["PublicOperation", "complete_document", "openapi_config"]


@dataclass
class PublicOperation(Operation):
    """An operation that needs no API key: ``security: []`` overrides the document's requirement."""

    def __post_init__(self) -> None:
        """Clear the inherited requirement (``[]``, which OpenAPI reads as "no authentication")."""
        self.security = []


def complete_document(app: Litestar) -> None:
    """Mark the public handlers, document the 415 of JSON bodies, fix ``Allow`` (before serving).

    The handlers are the app's own copies, so nothing outside this app changes.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler):
                continue
            _allow_every_method(route, handler)
            if not handler.resolve_guards():
                handler.operation_class = PublicOperation
            if "data" in handler.parsed_fn_signature.parameters and 415 not in (handler.responses or {}):
                handler.responses = {**(handler.responses or {}), **problem_responses_for(415)}


def _string(pattern: str, *, empty: bool = False, wildcard: bool = False) -> dict[str, Any]:
    choices = [pattern] + ([r"\*"] if wildcard else []) + ([""] if empty else [])
    return {"type": "string", "pattern": "^(?:" + "|".join(choices) + ")$"}


_TYPE: Final = TYPE_RE.pattern
_FREE_ID: Final = {"type": "string", "minLength": 1, "maxLength": limits.MAX_OBJECT_ID_LENGTH}
"""Ids are free strings (``rebac.refs.encode_id``: at most 767 UTF-8 bytes outside the grammar)."""
_FREE_ID_OR_EMPTY: Final = {"type": "string", "maxLength": limits.MAX_OBJECT_ID_LENGTH}
_NAME: Final = RELATION_RE.pattern
_DECISION_LIMIT: Final = {"type": "integer", "minimum": 1, "maximum": limits.MAX_DECISION_PAGE_SIZE}


def _constraints(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """Per component and member: what the server enforces beyond the JSON type."""
    page = {"type": "integer", "minimum": 0, "maximum": settings.api.max_page_size}
    relation_or_none = _string(_NAME + r"|\.\.\.", empty=True)
    return {
        # ``*`` is a subject id only (``user:*``), and this shape is shared with resources.
        "ObjectReference": {"objectType": _string(_TYPE), "objectId": _FREE_ID},
        # AuthZEN's shapes stay open to unknown members; their names and ids are rebac's.
        "Entity": {"type": _string(_TYPE), "id": _FREE_ID},
        "SearchEntity": {"type": _string(_TYPE)},
        "Action": {"name": _string(_NAME)},
        "SubjectReference": {"optionalRelation": relation_or_none},
        "Relationship": {
            "relation": _string(_NAME),
            "optionalExpiresAt": {"type": "string", "format": "date-time"},
        },
        "ContextualizedCaveat": {"caveatName": _string(CAVEAT_NAME_RE.pattern)},
        "CheckRequest": {"permission": _string(_NAME)},
        "CheckBulkItem": {"permission": _string(_NAME)},
        "ExpandRequest": {"permission": _string(_NAME)},
        "LookupResourcesRequest": {
            "resourceObjectType": _string(_TYPE),
            "permission": _string(_NAME),
            "optionalLimit": page,
        },
        "LookupSubjectsRequest": {
            "permission": _string(_NAME),
            "subjectObjectType": _string(_TYPE),
            "optionalSubjectRelation": relation_or_none,
            "optionalConcreteLimit": page,
        },
        "RelationshipFilter": {
            "resourceType": _string(_TYPE, empty=True),
            "optionalResourceId": _FREE_ID_OR_EMPTY,
            "optionalRelation": _string(_NAME, empty=True),
        },
        "SubjectFilter": {
            "subjectType": _string(_TYPE),
            "optionalSubjectId": _FREE_ID_OR_EMPTY,
        },
        "RelationFilter": {"relation": relation_or_none},
        "ReadRequest": {"optionalLimit": page},
        "ExportRequest": {"optionalLimit": {"type": "integer", "minimum": 0}},
        "DeleteRequest": {"optionalLimit": {"type": "integer", "minimum": 0}},
        "WatchRequest": {
            "optionalObjectTypes": {"type": "array", "items": _string(_TYPE)},
            "optionalLimit": {"type": "integer", "minimum": 0, "maximum": MAX_CHANGES},
            "optionalTimeoutSeconds": {"type": "number", "minimum": 0, "maximum": MAX_TIMEOUT},
        },
    }


def _closed_components() -> frozenset[str]:
    """The DTOs that refuse unknown members (the v1 request shapes)."""
    classes = [getattr(dto, name) for name in dto.__all__]
    return frozenset(
        cls.__name__
        for cls in classes
        if isinstance(cls, type)
        and issubclass(cls, msgspec.Struct)
        and cls.__struct_config__.forbid_unknown_fields
    )


def _narrow(member: dict[str, Any], rule: dict[str, Any]) -> None:
    """Merge ``rule`` into ``member`` (into its non-null branch when it is ``oneOf [T, null]``)."""
    branches = member.get("oneOf")
    targets = [b for b in branches if b.get("type") == rule["type"]] if branches else [member]
    for target in targets:
        target.update(rule)


@dataclass
class _Document(OpenAPI):
    """The OpenAPI object whose rendering adds what the server enforces (see the module docstring)."""

    def to_schema(self) -> dict[str, Any]:
        """The document, with the constraints and closed objects of :func:`_constraints`."""
        out = super().to_schema()
        schemas = out.get("components", {}).get("schemas", {})
        rules: dict[str, dict[str, dict[str, Any]]] = getattr(self, "_rebac_rules", {})
        for name in _closed_components():
            if name in schemas:
                schemas[name]["additionalProperties"] = False
        for name, members in rules.items():
            properties = schemas.get(name, {}).get("properties", {})
            for member, rule in members.items():
                if member in properties:
                    _narrow(properties[member], rule)
        query = {
            ("/v1/decisions", "limit"): _DECISION_LIMIT,
            ("/v1/decisions/export", "limit"): _DECISION_LIMIT,
            ("/v1/reviews", "subject"): _string(f"(?:{_TYPE}):.+"),
            ("/v1/identities", "type"): _string(_TYPE),
        }
        for (path, name), rule in query.items():
            for parameter in out.get("paths", {}).get(path, {}).get("get", {}).get("parameters", []):
                if parameter.get("name") == name:
                    _narrow(parameter["schema"], rule)
        return out


@dataclass
class _Config(OpenAPIConfig):
    """Builds a :class:`_Document` carrying the constraints of the app's settings."""

    rebac_settings: Settings | None = None

    def to_openapi_schema(self) -> OpenAPI:
        """Litestar's document object, as a :class:`_Document`."""
        base = super().to_openapi_schema()
        document = _Document(**{f.name: getattr(base, f.name) for f in fields(base)})
        document._rebac_rules = _constraints(self.rebac_settings or Settings())  # type: ignore[attr-defined]  # noqa: SLF001
        return document


def _allow_every_method(route: HTTPRoute, handler: HTTPRouteHandler) -> None:
    """Make the automatic ``OPTIONS`` answer list every method of ``route`` (a Litestar quirk).

    Litestar builds that handler for the first handler of a path and keeps it when later ones
    (``GET /v1/keys`` after ``POST /v1/keys``) join the route, so its ``Allow`` header names the
    first one's methods only. The handler reads the methods of the route it was made for; that
    route is given the merged route's methods.
    """
    if handler.http_methods != {"OPTIONS"} or handler.include_in_schema:
        return
    for cell in getattr(handler.fn, "__closure__", None) or ():
        made_for = cell.cell_contents
        if isinstance(made_for, HTTPRoute) and made_for is not route:
            made_for.methods = set(route.methods)


def openapi_config(settings: Settings | None = None) -> OpenAPIConfig:
    """The document's title, version, bearer scheme and global security requirement."""
    security: Any = [{"apiKey": []}]
    return _Config(
        rebac_settings=settings,
        title="rebac",
        version=__version__,
        description="Zanzibar-style authorization for AI agents: SpiceDB-shaped v1 API and AuthZEN 1.0.",
        path="/schema",
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")}
        ),
        security=security,
    )
