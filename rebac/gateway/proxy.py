"""The gateway's ASGI app: the bearer token, the decision, then the upstream (or a refusal).

Routes: ``POST``/``GET``/``DELETE`` on the MCP path (``/mcp``), and the RFC 9728 protected
resource metadata at ``/.well-known/oauth-protected-resource`` (also with the MCP path appended).
For each ``POST``:

1. the bearer JWT is validated (:mod:`rebac.gateway.tokens`); a missing or invalid one is a 401
   whose ``WWW-Authenticate`` names the metadata document;
2. the body is one JSON-RPC message; an ``Mcp-Method`` / ``Mcp-Name`` header that disagrees with
   it is a 400 (the headers can never steer the decision away from the body);
3. the token's subject and chain decide the message (:class:`rebac.integrations.mcp_policy.Authorizer`,
   through the SDK); a refusal is answered here with a JSON-RPC error naming the reason and the
   decision id, and the upstream is never called;
4. a list is sent on and its answer filtered with one bulk check; anything else is sent on and
   its answer returned as it came.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from rebac.errors import UnauthenticatedError
from rebac.gateway.messages import (
    Answer,
    Headers,
    Incoming,
    decode_message,
    error_answer,
    json_answer,
    rewrite_response,
)
from rebac.gateway.tokens import InvalidBearerError, TokenValidator
from rebac.gateway.upstream import Upstream, UpstreamError, unavailable
from rebac.integrations.mcp_policy import LIST_METHODS, Actor, Authorizer, actor_from_claims

__all__ = ["METADATA_PATH", "GatewayApp"]

log = logging.getLogger("rebac.gateway")

METADATA_PATH: Final = "/.well-known/oauth-protected-resource"
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
ACTOR_CACHE_SIZE: Final = 10_000
_INVALID_REQUEST: Final = -32600
_PARSE_ERROR: Final = -32700

Scope = dict[str, Any]
Receive = Any
Send = Any


class GatewayApp:
    """The ASGI app of ``rebac mcp-gateway``.

    Args:
        tokens: Validates bearer tokens.
        authorizer: Decides requests (through the SDK).
        upstream: The MCP server behind the gateway.
        path: The MCP endpoint's path.
        resource: The protected resource's identifier (RFC 9728 ``resource``).
        authorization_servers: The issuers clients get tokens from.
    """

    def __init__(
        self,
        tokens: TokenValidator,
        authorizer: Authorizer,
        upstream: Upstream,
        *,
        path: str,
        resource: str,
        authorization_servers: list[str],
        name: str,
    ) -> None:
        self.tokens = tokens
        self.authorizer = authorizer
        self.upstream = upstream
        self.path = path
        self.metadata = msgspec.json.encode(
            {
                "resource": resource,
                "authorization_servers": authorization_servers,
                "bearer_methods_supported": ["header"],
                "resource_name": name,
            }
        )
        self._actors: dict[str, Actor] = {}
        """The actor of each recent token (validated again on every request: expiry still applies)."""
        self._metadata_paths = {METADATA_PATH, METADATA_PATH + path}
        self._metadata_url = resource.split("://", 1)[0] + "://" + _authority(resource) + METADATA_PATH + path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection event."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, verb = scope["path"], scope["method"]
        if path in self._metadata_paths and verb == "GET":
            await _send(send, Answer(200, [(b"content-type", b"application/json")], self.metadata))
            return
        if path != self.path:
            await _send(send, json_answer({"error": "not_found"}, 404))
            return
        if verb not in {"POST", "GET", "DELETE"}:
            await _send(send, Answer(405, [(b"allow", b"GET, POST, DELETE")]))
            return
        await _send(send, await self._serve(scope, receive, verb))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.upstream.start()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": f"the upstream: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstream.close()
                await self.authorizer.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: Scope, receive: Receive, verb: str) -> Answer:
        headers: Headers = scope["headers"]
        authorization = _header(headers, b"authorization")
        try:
            claims = await self.tokens.validate(authorization)
            actor = self._actors.get(authorization or "")
            if actor is None:
                actor = actor_from_claims(claims, self.authorizer.policy.identity)
                self._remember(authorization or "", actor)
        except UnauthenticatedError as exc:
            return self._unauthorized(exc)
        if verb != "POST":
            return await self._forward(verb, None, headers, None)
        body = await _body(receive)
        if body is None:
            return error_answer(None, {"code": _INVALID_REQUEST, "message": "the body is too large"}, 413)
        try:
            incoming = Incoming(body, decode_message(body), headers)
        except ValueError as exc:
            return error_answer(None, {"code": _PARSE_ERROR, "message": str(exc)}, 400)
        mismatch = _header_mismatch(incoming)
        if mismatch:
            return error_answer(
                incoming.message.get("id"), {"code": _INVALID_REQUEST, "message": mismatch}, 400
            )
        method = incoming.method
        if method is None:  # a response of the client's (to a server's request): not an action
            return await self._forward("POST", incoming, headers, None)
        verdict = await self.authorizer.authorize(actor, method, incoming.params)
        if not verdict.allowed:
            return error_answer(incoming.message.get("id"), verdict.error())
        return await self._forward("POST", incoming, headers, actor if method in LIST_METHODS else None)

    async def _forward(
        self, verb: str, incoming: Incoming | None, headers: Headers, lister: Actor | None
    ) -> Answer:
        request_id = incoming.message.get("id") if incoming is not None else None
        try:
            answer = await self.upstream.exchange(verb, incoming, headers)
            if lister is None or incoming is None or incoming.method is None:
                return answer
            method = incoming.method
            member = LIST_METHODS[method]

            async def keep_visible(result: dict[str, Any]) -> dict[str, Any]:
                items = result.get(member)
                if isinstance(items, list):
                    dicts = [i for i in items if isinstance(i, Mapping)]
                    result[member] = await self.authorizer.filter_items(lister, method, dicts)
                return result

            return await rewrite_response(answer, request_id, keep_visible)
        except UpstreamError as exc:
            log.error("the upstream failed: %s", exc)  # noqa: TRY400
            return unavailable(request_id, exc)

    def _remember(self, authorization: str, actor: Actor) -> None:
        """The actor of a token that validated (a token's claims never change: its text is signed)."""
        self._actors[authorization] = actor
        while len(self._actors) > ACTOR_CACHE_SIZE:
            del self._actors[next(iter(self._actors))]

    def _unauthorized(self, exc: UnauthenticatedError) -> Answer:
        code = exc.error if isinstance(exc, InvalidBearerError) else "invalid_token"
        parts = []
        if code is not None:
            detail = exc.message.replace('"', "'")
            parts += [f'error="{code}"', f'error_description="{detail}"']
        parts.append(f'resource_metadata="{self._metadata_url}"')
        challenge = ("Bearer " + ", ".join(parts)).encode("latin-1", "replace")
        body = {"error": code or "invalid_token", "error_description": exc.message}
        return json_answer(body, 401, [(b"www-authenticate", challenge)])


def _authority(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _header(headers: Headers, name: bytes) -> str | None:
    """The first value of a header (ASGI lowercases names: ``name`` must be lowercase)."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _header_mismatch(incoming: Incoming) -> str | None:
    """Why the ``Mcp-Method`` / ``Mcp-Name`` headers disagree with the body, if they do."""
    method = _header(incoming.headers, b"mcp-method")
    if method is not None and method != incoming.method:
        return "the Mcp-Method header does not match the body's method"
    name = _header(incoming.headers, b"mcp-name")
    if name is not None:
        params = incoming.params or {}
        if name not in {params.get("name"), params.get("uri")}:
            return "the Mcp-Name header does not match the body's name or uri"
    return None


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, answer: Answer) -> None:
    headers = list(answer.headers)
    if answer.stream is None:
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})
        return
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    try:
        more = True
        async for chunk in answer.stream:
            more = answer.ended is None or not answer.ended()
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
        if more:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        if answer.close is not None:
            await answer.close()
