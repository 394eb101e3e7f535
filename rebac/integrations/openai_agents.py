"""Guard OpenAI Agents SDK function tools with rebac (a tool input guardrail).

:func:`rebac_guardrail` is a :class:`~agents.ToolInputGuardrail` that asks rebac, with the agent's
identity and chain (:class:`~rebac.integrations._guard.ToolGuard`), before every call of the tool
it is attached to. A refusal is the SDK's own guardrail rejection: by default
``reject_content`` (the model reads "rebac denied tool 'delete_database' for ...: delegation ...;
decision ..." as the tool's answer and the run goes on), or with ``raise_on_deny=True``
``raise_exception`` (the run stops with :class:`~agents.ToolInputGuardrailTripwireTriggered`,
whose ``output.output_info`` is the :class:`~rebac.client.Decision`). Either way the tool's
function never runs. :func:`guard_tools` attaches the guardrail to each of an agent's tools.

Only function tools run input guardrails; hosted tools (web search, code interpreter) run on the
provider's side, so :func:`guard_tools` refuses to wrap them rather than leave them unchecked.

Install with ``pip install 'rebac[openai-agents]'``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from agents import FunctionTool, Tool, ToolGuardrailFunctionOutput, ToolInputGuardrail, ToolInputGuardrailData

from rebac.integrations._guard import ToolDeniedError, ToolGuard

__all__ = ["GUARDRAIL_NAME", "guard_tools", "rebac_guardrail"]

GUARDRAIL_NAME = "rebac"


def _arguments(raw: str) -> dict[str, Any] | None:
    """The call's JSON arguments as an object; ``None`` when they are not one (sent without them)."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else {"input": value}


def rebac_guardrail(guard: ToolGuard, *, raise_on_deny: bool = False) -> ToolInputGuardrail[Any]:
    """A tool input guardrail that lets a call run only when rebac allows it.

    Args:
        guard: Who acts and how calls map to checks (an async client, or a sync one that is run
            in a worker thread).
        raise_on_deny: Stop the run on a refusal (``raise_exception``) instead of answering the
            model with the refusal (``reject_content``).
    """

    async def check(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        tool = data.context.tool_name
        decision = await guard.adecide(tool, _arguments(data.context.tool_arguments))
        if decision.allowed:
            return ToolGuardrailFunctionOutput.allow(output_info=decision)
        if raise_on_deny:
            return ToolGuardrailFunctionOutput.raise_exception(output_info=decision)
        return ToolGuardrailFunctionOutput.reject_content(
            str(ToolDeniedError(tool, guard.actor, decision)), output_info=decision
        )

    return ToolInputGuardrail(guardrail_function=check, name=GUARDRAIL_NAME)


def guard_tools(
    tools: Sequence[Tool], guard: ToolGuard, *, raise_on_deny: bool = False
) -> list[FunctionTool]:
    """Copies of ``tools`` with the rebac guardrail first among their input guardrails.

    Raises:
        TypeError: a tool is not a function tool (its calls could not be checked).
    """
    guardrail = rebac_guardrail(guard, raise_on_deny=raise_on_deny)
    guarded: list[FunctionTool] = []
    for tool in tools:
        if not isinstance(tool, FunctionTool):
            raise TypeError(f"rebac can only guard function tools, not {type(tool).__name__} {tool.name!r}")
        existing = list(tool.tool_input_guardrails or ())
        guarded.append(dataclasses.replace(tool, tool_input_guardrails=[guardrail, *existing]))
    return guarded
