"""Guard LangChain tools (and so LangGraph's ``ToolNode`` and ``create_react_agent``) with rebac.

:func:`guard_tools` wraps each tool so that every invocation is checked first, with the agent's
identity and chain (:class:`~rebac.integrations._guard.ToolGuard`). A refused call never runs the
tool's body: the wrapper raises LangChain's own :class:`~langchain_core.tools.ToolException`, which
the tool turns into the tool message the model reads (``handle_tool_error``), so the agent sees
"rebac denied tool 'delete_database' for agent:helper -> user:alice: denied; decision ..." and
carries on. Pass ``handle_tool_error=False`` to have the exception propagate instead.

Install with ``pip install 'rebac[langchain]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import ConfigDict

from rebac.integrations._guard import ToolDeniedError, ToolGuard

__all__ = ["GuardedTool", "guard_tools"]


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The input to hand the wrapped tool, and the arguments to check."""
    if kwargs:
        return dict(kwargs), dict(kwargs)
    if len(args) == 1:
        value = args[0]
        return value, dict(value) if isinstance(value, dict) else {"input": value}
    return list(args), {"input": list(args)}


class GuardedTool(BaseTool):
    """A tool that asks rebac before its wrapped tool runs (made by :func:`guard_tools`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    guard: ToolGuard

    def _run(self, *args: Any, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any) -> Any:
        given, arguments = _arguments(args, kwargs)
        try:
            self.guard.enforce(self.name, arguments)
        except ToolDeniedError as exc:
            raise ToolException(str(exc)) from exc
        callbacks = run_manager.get_child() if run_manager else None
        return self.inner.invoke(given, config={"callbacks": callbacks})

    async def _arun(
        self, *args: Any, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        given, arguments = _arguments(args, kwargs)
        try:
            await self.guard.aenforce(self.name, arguments)
        except ToolDeniedError as exc:
            raise ToolException(str(exc)) from exc
        callbacks = run_manager.get_child() if run_manager else None
        return await self.inner.ainvoke(given, config={"callbacks": callbacks})


def guard_tools(
    tools: Sequence[BaseTool], guard: ToolGuard, *, handle_tool_error: bool = True
) -> list[BaseTool]:
    """Each tool wrapped so that rebac decides every call (same name, description and schema).

    Args:
        tools: The agent's tools.
        guard: Who acts and how calls map to checks; give it a sync client, an async client or
            both, for the way the agent runs (``invoke`` or ``ainvoke``).
        handle_tool_error: Report a refusal to the model as the tool's answer (LangChain's
            ``handle_tool_error``); ``False`` raises it.
    """
    return [
        GuardedTool(
            name=tool.name,
            description=tool.description,
            args_schema=tool.args_schema,
            return_direct=tool.return_direct,
            response_format=tool.response_format,
            inner=tool,
            guard=guard,
            handle_tool_error=handle_tool_error,
        )
        for tool in tools
    ]
