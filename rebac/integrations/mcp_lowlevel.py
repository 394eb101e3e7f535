"""A hook for servers on the official ``mcp`` SDK's low-level ``Server`` (the ``mcp`` extra).

:class:`McpGuard` asks rebac before a tool call, a resource read or a prompt, and filters lists,
with the rules of :mod:`rebac.integrations.mcp_policy` (the gateway's)::

    guard = McpGuard(Authorizer(decision_client(url, key, source="mcp-server")))

    @server.call_tool()
    @guard.call_tool
    async def call_tool(name: str, arguments: dict) -> list[TextContent]: ...

    @server.list_tools()
    @guard.list_tools
    async def list_tools() -> list[Tool]: ...

``read_resource``, ``get_prompt``, ``list_resources`` and ``list_prompts`` wrap the same way.
A refusal raises :class:`mcp.shared.exceptions.McpError` with the reason and decision id (the SDK
turns one raised in a tool into an ``isError`` result carrying that message). The subject is the
request's access token (the SDK's auth context: its JWT ``claims``, else its ``subject`` and
``client_id``) unless a ``resolve`` callable is given; no subject is a refusal too.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.shared.exceptions import McpError
from mcp.types import ErrorData

from rebac.integrations.mcp_policy import (
    DENIED_CODE,
    Actor,
    Authorizer,
    ClaimsError,
    Verdict,
    actor_from_claims,
)

__all__ = ["ActorResolver", "McpGuard", "actor_of_token", "refusal"]

T = TypeVar("T")
R = TypeVar("R")
ActorResolver = Callable[[], Actor | Awaitable[Actor]]
"""Who acts in the current request (raise, or return nothing usable, to refuse)."""


def refusal(verdict: Verdict) -> McpError:
    """The MCP error of a refused request."""
    error = verdict.error()
    return McpError(ErrorData(code=error["code"], message=error["message"], data=error["data"]))


def actor_of_token(token: Any, authorizer: Authorizer) -> Actor:
    """The actor of an SDK access token: its JWT claims, else its ``subject`` and ``client_id``.

    Raises:
        ClaimsError: no token, or one naming no subject.
    """
    if token is None:
        raise ClaimsError("the request carries no access token")
    claims = dict(getattr(token, "claims", None) or {})
    subject = getattr(token, "subject", None)
    if subject and "sub" not in claims:
        claims["sub"] = subject
    client = getattr(token, "client_id", None)
    if client and not any(c in claims for c in authorizer.policy.identity.client_claims):
        claims["client_id"] = client
    return actor_from_claims(claims, authorizer.policy.identity)


class McpGuard:
    """Checks and filters around low-level handlers (see the module docstring)."""

    def __init__(self, authorizer: Authorizer, *, resolve: ActorResolver | None = None) -> None:
        self.authorizer = authorizer
        self._resolve = resolve

    async def actor(self) -> Actor:
        """The current request's actor.

        Raises:
            McpError: none could be resolved (a refusal, reason ``unauthenticated``).
        """
        try:
            if self._resolve is None:
                return actor_of_token(get_access_token(), self.authorizer)
            found = self._resolve()
            return await found if inspect.isawaitable(found) else found
        except Exception as exc:
            raise refusal(Verdict(allowed=False, reason="unauthenticated", detail=str(exc))) from exc

    async def require(self, method: str, params: dict[str, Any]) -> None:
        """Refuse (raise) unless rebac allows ``method`` with ``params`` for the current actor."""
        verdict = await self.authorizer.authorize(await self.actor(), method, params)
        if not verdict.allowed:
            raise refusal(verdict)

    async def keep(self, method: str, items: Sequence[T], name: Callable[[T], str]) -> list[T]:
        """The items of a list the current actor may use (one bulk check)."""
        actor = await self.actor()
        allowed = await self.authorizer.visible(actor, method, [name(i) for i in items])
        return [i for i in items if name(i) in allowed]

    def call_tool(
        self, handler: Callable[[str, dict[str, Any]], Awaitable[R]]
    ) -> Callable[[str, dict[str, Any]], Awaitable[R]]:
        """Wrap a ``call_tool`` handler."""

        @wraps(handler)
        async def guarded(name: str, arguments: dict[str, Any]) -> R:
            await self.require("tools/call", {"name": name, "arguments": arguments})
            return await handler(name, arguments)

        return guarded

    def read_resource(self, handler: Callable[[Any], Awaitable[R]]) -> Callable[[Any], Awaitable[R]]:
        """Wrap a ``read_resource`` handler (its argument is the URI)."""

        @wraps(handler)
        async def guarded(uri: Any) -> R:
            await self.require("resources/read", {"uri": str(uri)})
            return await handler(uri)

        return guarded

    def get_prompt(
        self, handler: Callable[[str, dict[str, str] | None], Awaitable[R]]
    ) -> Callable[[str, dict[str, str] | None], Awaitable[R]]:
        """Wrap a ``get_prompt`` handler."""

        @wraps(handler)
        async def guarded(name: str, arguments: dict[str, str] | None) -> R:
            await self.require("prompts/get", {"name": name})
            return await handler(name, arguments)

        return guarded

    def list_tools(self, handler: Callable[[], Awaitable[list[T]]]) -> Callable[[], Awaitable[list[T]]]:
        """Wrap a ``list_tools`` handler (items with a ``name``)."""
        return self._lister("tools/list", handler, lambda item: str(item.name))  # type: ignore[attr-defined]

    def list_resources(self, handler: Callable[[], Awaitable[list[T]]]) -> Callable[[], Awaitable[list[T]]]:
        """Wrap a ``list_resources`` handler (items with a ``uri``)."""
        return self._lister("resources/list", handler, lambda item: str(item.uri))  # type: ignore[attr-defined]

    def list_prompts(self, handler: Callable[[], Awaitable[list[T]]]) -> Callable[[], Awaitable[list[T]]]:
        """Wrap a ``list_prompts`` handler (items with a ``name``)."""
        return self._lister("prompts/list", handler, lambda item: str(item.name))  # type: ignore[attr-defined]

    def _lister(
        self, method: str, handler: Callable[[], Awaitable[list[T]]], name: Callable[[T], str]
    ) -> Callable[[], Awaitable[list[T]]]:
        @wraps(handler)
        async def guarded() -> list[T]:
            return await self.keep(method, await handler(), name)

        return guarded


_ = DENIED_CODE  # re-exported meaning: refusals carry this code
