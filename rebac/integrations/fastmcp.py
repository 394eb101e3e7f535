"""FastMCP middleware that asks rebac before every tool call, resource read and prompt (``fastmcp`` extra).

::

    from rebac.integrations.fastmcp import RebacMiddleware
    from rebac.integrations.mcp_policy import Authorizer, decision_client

    mcp = FastMCP("tools", auth=JWTVerifier(...))
    mcp.add_middleware(RebacMiddleware(Authorizer(decision_client(url, key, source="mcp-server"))))

The rules are the gateway's (:mod:`rebac.integrations.mcp_policy`): the same checks, lists kept
to what the subject may use with one bulk check, and every error, timeout or outage a refusal. The
subject is FastMCP's authenticated access token (its JWT claims: ``sub``, ``client_id``/``azp``,
``act``) unless ``resolve`` is given (a callable of the middleware context returning an
:class:`~rebac.integrations.mcp_policy.Actor`). A refusal raises
:class:`mcp.shared.exceptions.McpError` with the reason and the decision id; FastMCP answers a
refused tool call with an ``isError`` result carrying that message, the tool body never runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import mcp.types as mt
from fastmcp.prompts.prompt import Prompt
from fastmcp.resources.resource import Resource
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.tool import Tool, ToolResult

from rebac.integrations.mcp_lowlevel import McpGuard, actor_of_token
from rebac.integrations.mcp_policy import Actor, Authorizer

__all__ = ["ContextResolver", "RebacMiddleware"]

ContextResolver = Callable[[MiddlewareContext[Any]], Actor | Awaitable[Actor]]
"""Who acts in a request, from FastMCP's middleware context."""


class RebacMiddleware(Middleware):
    """rebac's checks as FastMCP middleware (see the module docstring)."""

    def __init__(self, authorizer: Authorizer, *, resolve: ContextResolver | None = None) -> None:
        self.authorizer = authorizer
        self._resolve = resolve

    def _guard(self, context: MiddlewareContext[Any]) -> McpGuard:
        resolve = self._resolve

        async def actor() -> Actor:
            if resolve is None:
                return actor_of_token(get_access_token(), self.authorizer)
            found = resolve(context)
            return await found if inspect.isawaitable(found) else found

        return McpGuard(self.authorizer, resolve=actor)

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        """Check ``call`` on the tool with its arguments, then call it."""
        params = {"name": context.message.name, "arguments": context.message.arguments or {}}
        await self._guard(context).require("tools/call", params)
        return await call_next(context)

    async def on_read_resource(
        self, context: MiddlewareContext[mt.ReadResourceRequestParams], call_next: CallNext[Any, Any]
    ) -> Any:
        """Check ``read`` on the resource's URI, then read it."""
        await self._guard(context).require("resources/read", {"uri": str(context.message.uri)})
        return await call_next(context)

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mt.GetPromptRequestParams],
        call_next: CallNext[mt.GetPromptRequestParams, mt.GetPromptResult],
    ) -> mt.GetPromptResult:
        """Check ``get`` on the prompt, then render it."""
        await self._guard(context).require("prompts/get", {"name": context.message.name})
        return await call_next(context)

    async def on_list_tools(
        self,
        context: MiddlewareContext[mt.ListToolsRequest],
        call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        """The tools the subject may call (or whose call depends on its arguments)."""
        return await self._guard(context).keep("tools/list", list(await call_next(context)), lambda t: t.name)

    async def on_list_resources(
        self,
        context: MiddlewareContext[mt.ListResourcesRequest],
        call_next: CallNext[mt.ListResourcesRequest, Sequence[Resource]],
    ) -> Sequence[Resource]:
        """The resources the subject may read."""
        return await self._guard(context).keep(
            "resources/list", list(await call_next(context)), lambda r: str(r.uri)
        )

    async def on_list_prompts(
        self,
        context: MiddlewareContext[mt.ListPromptsRequest],
        call_next: CallNext[mt.ListPromptsRequest, Sequence[Prompt]],
    ) -> Sequence[Prompt]:
        """The prompts the subject may get."""
        return await self._guard(context).keep(
            "prompts/list", list(await call_next(context)), lambda p: p.name
        )
