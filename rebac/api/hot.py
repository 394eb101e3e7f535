"""Hot routes: the decision endpoints' ordinary requests, served without Litestar's per-request work.

A check is the request a policy enforcement point sends on every access, so its fixed cost is the
service's throughput. On ``POST /v1/permissions/check`` and ``POST /access/v1/evaluation`` the
handler's middleware (:func:`hot_route`) answers a request itself when it is *ordinary*: a
``check``-scoped API key, a body within ``max_request_bytes`` that decodes to the endpoint's DTO.
It then calls the same function the Litestar handler calls (so the answer, the decision record and
any error are the same), and sends the msgspec-encoded DTO. That skips the guard's handler copy,
header re-parsing, dependency injection, the signature model and the response object.

Anything else (no or a wrong key, a missing scope, a body too large or not the DTO, a field the
DTO does not have, a ``Content-Type`` that is not JSON, a body that may nest too deeply or hold a
NUL (:mod:`rebac.api.request`), a client gone mid-body) falls through to the ordinary route with
the body replayed, so every error is the one Litestar and :mod:`rebac.api.problems` give. An
error of the decision itself is rendered by the app's exception handler, as for the handler.
``X-Request-ID`` and the access log line are the app middleware's, around both paths; this route
leaves the caller in ``scope["state"]`` for it. The app sets no request/response hooks, cookies
or per-route body limit on these routes (the limit is ``max_request_bytes``, as for the app); one
added there must be added here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import msgspec
from litestar.serialization import encode_json
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from rebac.api.auth import Authenticator, Principal
from rebac.api.problems import handle_exception
from rebac.api.request import is_json, may_be_too_deep, may_hold_nul
from rebac.api.state import AppState
from rebac.services.core import Services
from rebac.services.types import Current

__all__ = ["HotRoute", "HotServe", "hot_route"]

T = TypeVar("T")

HotServe = Callable[[Services, Current, str | None, T, str | None, str | None], Awaitable[msgspec.Struct]]
"""``(services, current, caller key id, request DTO, X-Rebac-Consistency-Token, X-Rebac-Decision-Source)``
``-> response DTO``."""

_AUTHORIZATION: Final = b"authorization"
_CONTENT_LENGTH: Final = b"content-length"
_CONTENT_TYPE: Final = b"content-type"
_TOKEN: Final = b"x-rebac-consistency-token"
_SOURCE: Final = b"x-rebac-decision-source"
_JSON_HEADERS: Final = (b"content-type", b"application/json")


class HotRoute:
    """ASGI middleware of one decision route (see the module docstring).

    Args:
        app: The route's own stack (the fall-through).
        body_type: The request DTO.
        serve: What the route's handler calls with the decoded DTO.
        scope_name: The API key scope the route's guard requires.
    """

    __slots__ = ("_decoder", "_scope", "_serve", "app")

    def __init__(self, app: ASGIApp, body_type: type[T], serve: HotServe[T], scope_name: str) -> None:
        self.app = app
        self._decoder = msgspec.json.Decoder(body_type, strict=True)
        self._serve = serve
        self._scope = scope_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ordinary request here, anything else through the route."""

        async def route(replayed: Receive) -> None:
            await self.app(scope, replayed, send)

        await self.serve(scope, receive, send, send, route, ())

    async def serve(  # noqa: PLR0917 - one request's ASGI callables and the edge's additions
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        send_problem: Send,
        fallback: Callable[[Receive], Awaitable[None]],
        extra_headers: tuple[tuple[bytes, bytes], ...],
    ) -> int | None:
        """Answer ``scope`` here (the status) or hand it to ``fallback`` with the body replayed (``None``).

        ``send`` takes the answer, whose headers end with ``extra_headers``; ``send_problem`` takes
        a decision's error, rendered by the app's exception handler.
        """
        litestar_app = scope["litestar_app"]
        state: AppState = litestar_app.state.app
        authorization = length = token = media = source = None
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION and authorization is None:
                authorization = value
            elif name == _CONTENT_LENGTH and length is None:
                length = value
            elif name == _CONTENT_TYPE and media is None:
                media = value
            elif name == _TOKEN and token is None:
                token = value.decode("latin-1")
            elif name == _SOURCE and source is None:
                source = value.decode("latin-1")
        principal = await _principal(state.authenticator, authorization, self._scope)
        limit = state.settings.api.max_request_bytes
        if (
            principal is None
            or length is None
            or not length.isdigit()
            or int(length) > limit
            or not is_json(media)
        ):
            await fallback(receive)
            return None
        scope.setdefault("state", {})["principal"] = principal  # for the access log
        body, seen = await _read_body(receive, limit)
        data = None
        if body is not None and not may_be_too_deep(body) and not may_hold_nul(body):
            try:
                data = self._decoder.decode(body)
            except (msgspec.MsgspecError, RecursionError):  # the route reports it (400)
                data = None
        if data is None:
            await fallback(_replay(seen, receive))
            return None
        try:
            services = state.services
            current = await services.engines.current()
            answer = encode_json(await self._serve(services, current, principal.key_id, data, token, source))
        except Exception as exc:  # noqa: BLE001 - rendered by the app's handler, as the route would
            request = litestar_app.request_class(scope=scope, receive=receive, send=send_problem)
            response = handle_exception(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send_problem)
            return response.status_code
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [_JSON_HEADERS, (_CONTENT_LENGTH, str(len(answer)).encode()), *extra_headers],
        }
        await send(start)
        await send({"type": "http.response.body", "body": answer, "more_body": False})
        return 200


def hot_route(
    body_type: type[T], serve: HotServe[T], *, scope: str = "check"
) -> Callable[[ASGIApp], HotRoute]:
    """The handler middleware serving ordinary ``body_type`` requests with ``serve``."""

    def build(app: ASGIApp) -> HotRoute:
        return HotRoute(app, body_type, serve, scope)

    return build


async def _principal(authenticator: Authenticator, header: bytes | None, scope: str) -> Principal | None:
    """The caller when the key is valid and has ``scope``; ``None`` leaves the verdict to the guard."""
    if header is None:
        return None
    try:
        principal = await authenticator.authenticate(header.decode("latin-1"))
    except Exception:  # noqa: BLE001 - the guard authenticates again and reports the failure
        return None
    return principal if principal.allows(scope) else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, list[ReceiveMessage]]:
    """The whole body (``None`` when over ``limit`` or interrupted) and the messages received."""
    seen: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request":
            return None, seen
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, seen
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), seen


def _replay(seen: list[ReceiveMessage], receive: Receive) -> Receive:
    """``receive`` that first returns ``seen`` again."""
    pending = list(reversed(seen))

    async def replay() -> ReceiveMessage:
        if pending:
            return pending.pop()
        return await receive()

    return replay
