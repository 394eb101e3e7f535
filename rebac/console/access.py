"""Who is signed in: the session guard, the CSRF check, and the console's per-app state.

:class:`ConsoleState` is built once per app by :func:`rebac.console.console_router` and reaches
the handlers as the ``console`` dependency; there is no module-level state. The guard reads the
session cookie, checks that its key still authenticates with the same secret and still has the
``admin`` scope, and leaves the principal in ``connection.state.principal`` (so the ``principal``
dependency, the access log and the services' ``caller`` see the key, as for the API).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Final

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from rebac.api.auth import Authenticator, Principal
from rebac.console.errors import CsrfRefusedError, SignInRequiredError
from rebac.console.session import COOKIE, Session, SessionCodec, csrf_matches

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "ConsoleState", "SignedIn", "check_csrf", "signed_in"]

CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ConsoleState:
    """What the console's requests share: the session codec (``None``: sign-in is unavailable)."""

    codec: SessionCodec | None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The session of a request and the principal of its key."""

    session: Session
    principal: Principal


async def session_of(connection: ASGIConnection[Any, Any, Any, Any], codec: SessionCodec | None) -> SignedIn:
    """The request's live session.

    Raises:
        SignInRequiredError: no session cookie, a forged or expired one, or its key no longer
            authenticates (revoked, re-issued, lost its ``admin`` scope).
    """
    if codec is None:
        raise SignInRequiredError
    session = codec.read(connection.cookies.get(COOKIE))
    if session is None:
        raise SignInRequiredError
    authenticator: Authenticator = connection.app.state.app.authenticator
    live = await authenticator.live_key(session.key_id)
    if live is None or not hmac.compare_digest(codec.fingerprint(live[0]), session.fingerprint):
        raise SignInRequiredError
    principal = live[1]
    connection.state.principal = principal
    if not principal.allows("admin"):
        raise SignInRequiredError
    return SignedIn(session, principal)


def signed_in(console: ConsoleState) -> Any:
    """A guard: the request has a live session; a state change also carries its CSRF token.

    The form field is read only for ``application/x-www-form-urlencoded`` and
    ``multipart/form-data`` bodies (the console's forms; the what-if form uploads files); htmx
    requests send the ``X-CSRF-Token`` header instead.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        found = await session_of(connection, console.codec)
        connection.state.console = found
        if isinstance(connection, Request) and connection.method not in SAFE_METHODS:
            await check_csrf(connection, found.session)

    return guard


async def check_csrf(request: Request[Any, Any, Any], session: Session) -> None:
    """Refuse a state change whose CSRF token is missing or wrong.

    Raises:
        CsrfRefusedError: the token is absent or not the session's.
    """
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_matches(session, presented):
        raise CsrfRefusedError


def signed(request: Request[Any, Any, Any]) -> SignedIn:
    """The :class:`SignedIn` the guard left on the request."""
    found = getattr(request.state, "console", None)
    if not isinstance(found, SignedIn):
        raise SignInRequiredError
    return found
