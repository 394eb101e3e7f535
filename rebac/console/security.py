"""The headers of every console response: a strict Content-Security-Policy and its companions.

The policy allows this origin only (``default-src 'self'``), no inline script or style, no
plugins, no framing and no form posts elsewhere; the console ships no inline ``<script>`` or
``style=`` at all (htmx's indicator styles are off, see ``base.html``), so it needs no nonce.
Responses are never cached (they show authorization data) and send no referrer.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SECURITY_HEADERS", "SecurityHeaders"]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_NO_STORE: Final = (b"cache-control", b"no-store")


class SecurityHeaders:
    """ASGI middleware (the console router's): adds :data:`SECURITY_HEADERS` to every response.

    Pages also get ``Cache-Control: no-store``; the vendored static files keep their own caching.
    """

    __slots__ = ("_app",)

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/console/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given: list[Any] = list(message.get("headers", []))
                names = {bytes(name).lower() for name, _ in given}
                extra = [h for h in SECURITY_HEADERS if h[0] not in names]
                if not static and _NO_STORE[0] not in names:
                    extra.append(_NO_STORE)
                message = {**message, "headers": [*given, *extra]}
            await send(message)

        await self._app(scope, receive, with_headers)
