"""Glue between the deciding controllers and the decision recorder (one call per decision).

:func:`decide` runs a check through :func:`rebac.services.recorder.check_and_record` with the
request's caller (API key id), revision and schema version, so check, bulk check and AuthZEN
record the same fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Request

from rebac.api.auth import Principal
from rebac.api.services import Current, Services
from rebac.engine import CheckResult
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.recorder import DecisionScope, check_and_record
from rebac.store.revision import Revision

__all__ = ["caller_of", "decide", "decision_id_of"]


def caller_of(request: Request[Any, Any, Any]) -> str | None:
    """The API key id of the request's authenticated caller (``None`` when unknown)."""
    principal = getattr(request.state, "principal", None)
    return principal.key_id if isinstance(principal, Principal) else None


async def decide(  # noqa: PLR0917 - the request's context, then the check's own arguments
    services: Services,
    current: Current,
    caller: str | None,
    source: str,
    revision: Revision,
    check: tuple[ObjectRef, str, SubjectRef],
    *,
    context: Mapping[str, Any] | None = None,
    via: Sequence[SubjectRef] | None = None,
) -> tuple[str | None, CheckResult]:
    """Check ``(resource, permission, subject)`` at ``revision`` and record the decision.

    ``caller`` is the API key id of the request (see :func:`caller_of`). Returns the decision id
    (``None`` when decisions are not recorded) and the result; an engine error is recorded,
    carries ``decisionId`` in its details, and is re-raised.
    """
    version = current.version
    scope = DecisionScope(source, caller, revision, version.version, version.hash)
    resource, permission, subject = check
    return await check_and_record(
        services.decisions, current.engine, scope, resource, permission, subject, context=context, via=via
    )


def decision_id_of(exc: BaseException) -> str | None:
    """The decision id a recorded error carries, if any."""
    details = getattr(exc, "details", None)
    found = details.get("decisionId") if isinstance(details, dict) else None
    return found if isinstance(found, str) else None
