"""The one decision every agent-framework guard makes before a tool body runs.

A :class:`ToolGuard` names who acts (the agent's subject and its delegation chain ``via``, as an
RFC 8693 ``act`` chain lists it: the agent first, its human principal last) and how a tool call
becomes a check: by default resource ``tool:<name>``, permission ``call`` and the caveat context
``{"arguments": ..., "tool": name}``, the mapping of the MCP gateway (``docs/agents.md``). Tool
names outside the id grammar (``search.web``) are sent as they are; the server maps them
one-to-one and its decision log shows them as written.

It asks with the SDK's fail-closed ``decide``: only an explicit ``HAS_PERMISSION`` lets the body
run. A deny, a conditional answer (a caveat lacking context), a broken delegation chain, an error,
a timeout or an outage refuses the call with :class:`ToolDeniedError`, whose message carries the reason
and the decision id. Each framework module turns that into the framework's own refusal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rebac.client import AsyncClient, Client, Decision, Reason
from rebac.refs import ObjectRef, SubjectRef, parse_subject

__all__ = ["DEFAULT_MAX_ARGUMENT_BYTES", "ToolDeniedError", "ToolGuard"]

log = logging.getLogger("rebac.guard")

DEFAULT_MAX_ARGUMENT_BYTES: Final = 16_384
"""Arguments larger than this (as JSON) are not sent: a caveat on them then lacks context (a deny)."""


class ToolDeniedError(PermissionError):
    """rebac refused a tool call; the tool body did not run.

    Attributes:
        tool: The tool's name.
        decision: The fail-closed decision (``reason``, ``detail``, ``decision_id``, hops).
    """

    def __init__(self, tool: str, actor: str, decision: Decision) -> None:
        text = f"rebac denied tool {tool!r} for {actor}: {decision.reason.value}"
        if decision.detail:
            text += f" ({decision.detail})"
        if decision.failed_hop is not None:
            text += f"; failing hop {decision.failed_hop.subject}"
        if decision.decision_id:
            text += f"; decision {decision.decision_id}"
        super().__init__(text)
        self.tool = tool
        self.decision = decision


def _subject(value: SubjectRef | str) -> SubjectRef:
    return parse_subject(value) if isinstance(value, str) else value


def _json_safe(arguments: Mapping[str, Any], limit: int) -> dict[str, Any] | None:
    """``arguments`` when they are JSON and fit ``limit`` bytes; ``None`` otherwise (never sent)."""
    try:
        text = json.dumps(dict(arguments), default=str)
    except (TypeError, ValueError):
        return None
    if len(text.encode()) > limit:
        return None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True, slots=True)
class ToolGuard:
    """Checks every tool call of one agent (its subject and chain) with a rebac server.

    Give ``client`` for frameworks that call tools synchronously and ``async_client`` for those
    that await them. An awaited decision with only a sync client runs it in a worker thread (the
    event loop never blocks); a sync decision with only an async client refuses (reason ``error``).

    Attributes:
        subject: The agent acting (``agent:planner``).
        via: Its delegation chain, agent first, human last (``agent:planner``, ``user:alice``);
            empty for the chain the server derives from the recorded principals alone.
        client: A sync SDK client (its key needs scope ``check``).
        async_client: An async SDK client.
        resource_type: The type tool names become (``tool``).
        permission: The permission a call needs (``call``).
        max_argument_bytes: The size cap of the arguments sent as caveat context.
        timeout: Seconds a decision may take; slower is a deny (reason ``timeout``).
    """

    subject: SubjectRef | str
    via: Sequence[SubjectRef | str] = ()
    client: Client | None = None
    async_client: AsyncClient | None = None
    resource_type: str = "tool"
    permission: str = "call"
    max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES
    timeout: float = 5.0

    @property
    def actor(self) -> str:
        """Who acts, as the refusal names it (``agent:planner -> user:alice``)."""
        if self.via:
            return " -> ".join(str(_subject(s)) for s in self.via)
        return str(_subject(self.subject))

    def target(self, tool: str, arguments: Mapping[str, Any] | None) -> tuple[ObjectRef, dict[str, Any]]:
        """The resource and caveat context a call of ``tool`` with ``arguments`` is checked with."""
        context: dict[str, Any] = {"tool": tool}
        sent = _json_safe(arguments or {}, self.max_argument_bytes)
        if sent is not None:
            context["arguments"] = sent
        return ObjectRef(self.resource_type, tool), context

    def _via(self) -> list[SubjectRef] | None:
        return [_subject(s) for s in self.via] or None

    def decide(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Decision:
        """The fail-closed decision for one call (never raises an error)."""
        if self.client is None:
            return Decision(allowed=False, reason=Reason.ERROR, detail="this guard has no sync client")
        resource, context = self.target(tool, arguments)
        decision = self.client.decide(
            resource,
            self.permission,
            _subject(self.subject),
            context=context,
            via=self._via(),
            timeout=self.timeout,
        )
        return self._logged(tool, decision)

    async def adecide(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Decision:
        """:meth:`decide` for frameworks that await their tools."""
        if self.async_client is None:
            if self.client is None:
                return Decision(allowed=False, reason=Reason.ERROR, detail="this guard has no client")
            return await asyncio.to_thread(self.decide, tool, arguments)
        resource, context = self.target(tool, arguments)
        decision = await self.async_client.decide(
            resource,
            self.permission,
            _subject(self.subject),
            context=context,
            via=self._via(),
            timeout=self.timeout,
        )
        return self._logged(tool, decision)

    def enforce(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Decision:
        """The allowing decision, or :class:`ToolDeniedError`."""
        decision = self.decide(tool, arguments)
        if not decision.allowed:
            raise ToolDeniedError(tool, self.actor, decision)
        return decision

    async def aenforce(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Decision:
        """:meth:`enforce` for frameworks that await their tools."""
        decision = await self.adecide(tool, arguments)
        if not decision.allowed:
            raise ToolDeniedError(tool, self.actor, decision)
        return decision

    def _logged(self, tool: str, decision: Decision) -> Decision:
        if not decision.allowed:
            log.warning(
                "rebac refused tool %r for %s: %s %s (decision %s)",
                tool,
                self.actor,
                decision.reason.value,
                decision.detail,
                decision.decision_id,
            )
        return decision
