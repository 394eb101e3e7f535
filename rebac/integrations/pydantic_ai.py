"""Guard pydantic-ai tools with rebac (a toolset wrapper).

:class:`RebacToolset` wraps any toolset (the agent's function tools, an MCP server, ...) and asks
rebac, with the agent's identity and chain (:class:`~rebac.integrations._guard.ToolGuard`), before
every call. A refusal is pydantic-ai's own :class:`~pydantic_ai.ToolDenied`: the model reads
"rebac denied tool 'delete_database' for ...: denied; decision ..." as the tool's answer (a tool
return part with outcome ``denied``) and the run goes on; the tool's function never runs. With
``raise_on_deny=True`` the call raises :class:`~rebac.integrations._guard.ToolDeniedError` instead and
the run stops.

    agent = Agent(model, toolsets=[RebacToolset(FunctionToolset([search, delete_database]), guard)])

or :func:`guard_toolset` for the same. Install with ``pip install 'rebac[pydantic-ai]'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai import ToolDenied as PydanticToolDenied
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from rebac.integrations._guard import ToolDeniedError, ToolGuard

__all__ = ["RebacToolset", "guard_toolset"]


@dataclass
class RebacToolset(WrapperToolset[Any]):
    """A toolset whose every call rebac decides first.

    Attributes:
        wrapped: The toolset guarded.
        guard: Who acts and how calls map to checks (an async client, or a sync one that is run
            in a worker thread).
        raise_on_deny: Raise :class:`~rebac.integrations._guard.ToolDeniedError` instead of answering
            the model with pydantic-ai's ``ToolDenied``.
    """

    guard: ToolGuard
    raise_on_deny: bool = False

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        """Run the wrapped tool when rebac allows the call; a refusal otherwise."""
        decision = await self.guard.adecide(name, tool_args)
        if not decision.allowed:
            refused = ToolDeniedError(name, self.guard.actor, decision)
            if self.raise_on_deny:
                raise refused
            return PydanticToolDenied(str(refused))
        return await super().call_tool(name, tool_args, ctx, tool)


def guard_toolset(
    toolset: AbstractToolset[Any], guard: ToolGuard, *, raise_on_deny: bool = False
) -> RebacToolset:
    """``toolset`` wrapped so that rebac decides every call."""
    return RebacToolset(toolset, guard, raise_on_deny=raise_on_deny)
