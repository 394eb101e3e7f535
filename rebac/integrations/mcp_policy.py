"""What an MCP request asks of rebac, and the fail-closed decision: shared by the gateway and the middlewares.

The default mapping (``docs/agents.md``; the config file of ``rebac mcp-gateway`` can change it):

========================  ===========================  ==========  =================================
MCP request               resource                     permission  caveat context
========================  ===========================  ==========  =================================
``tools/call`` of ``N``   ``tool:N``                   ``call``    ``{"arguments": ..., "tool": N}``
``resources/read`` ``U``  ``mcp_resource:U``           ``read``
``prompts/get`` ``P``     ``prompt:P``                 ``get``
========================  ===========================  ==========  =================================

``tools/list``, ``resources/list`` and ``prompts/list`` keep what the subject may use, decided by
one bulk check. Names outside the id grammar (URIs, dotted tool names) are sent as they are; the
server maps them one-to-one (:func:`rebac.refs.encode_id`) and its decision log shows the original.

**Who acts.** A token of an agent client (``client_id`` or ``azp``) acting for ``sub`` is the
subject ``agent:<client_id>`` with the chain ``via`` = the agent, each actor of the nested ``act``
claim (RFC 8693) from the outermost in, then ``user:<sub>``; a token with no client is
``user:<sub>``. Type and claim names are configurable (:class:`Identity`).

**Fail closed.** Only an explicit ``PERMISSIONSHIP_HAS_PERMISSION`` allows a call; a deny, a caveat
lacking context, an error, a timeout or an outage is refused with :data:`DENIED_CODE`, the reason
and the decision id, and logged locally. A method the mapping does not know is refused too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rebac.client import AsyncClient, BulkCheck, Decision, Permissionship, Reason
from rebac.errors import InvalidInputError, UnauthenticatedError
from rebac.refs import ObjectRef, SubjectRef

__all__ = [
    "DECISION_SOURCE_HEADER",
    "DENIED_CODE",
    "LIST_METHODS",
    "PASSTHROUGH_METHODS",
    "Actor",
    "Authorizer",
    "ClaimsError",
    "Identity",
    "NotMappedError",
    "Policy",
    "Rule",
    "Target",
    "Verdict",
    "actor_from_claims",
    "decision_client",
    "target_of",
]

log = logging.getLogger("rebac.mcp")

DECISION_SOURCE_HEADER: Final = "X-Rebac-Decision-Source"
"""The header that labels a caller's decisions in the decision log (``docs/agents.md``)."""
DENIED_CODE: Final = -32003
"""The JSON-RPC error code of a refused MCP request (in the implementation-defined range)."""
LIST_METHODS: Final = {"tools/list": "tools", "resources/list": "resources", "prompts/list": "prompts"}
"""List methods and the member of their result that holds the items."""
PASSTHROUGH_METHODS: Final = frozenset(
    {
        "initialize",
        "ping",
        "logging/setLevel",
        "completion/complete",
        "resources/templates/list",
    }
)
"""Methods that name nothing to protect; notifications (``notifications/...``) pass too."""


class ClaimsError(UnauthenticatedError):
    """A token's claims name no subject the mapping can use."""


class NotMappedError(InvalidInputError):
    """An MCP method the mapping does not know: refused."""


@dataclass(frozen=True, slots=True)
class Rule:
    """The resource type and permission one kind of MCP request is checked against."""

    type: str
    permission: str


@dataclass(frozen=True, slots=True)
class Identity:
    """How a token's claims become a subject and its chain."""

    user_type: str = "user"
    agent_type: str = "agent"
    actor_type: str = "agent"
    subject_claim: str = "sub"
    client_claims: tuple[str, ...] = ("client_id", "azp")
    act_claim: str = "act"


@dataclass(frozen=True, slots=True)
class Policy:
    """The mapping of MCP requests to checks (the defaults are the table of the module docstring)."""

    tool: Rule = Rule("tool", "call")
    resource: Rule = Rule("mcp_resource", "read")
    prompt: Rule = Rule("prompt", "get")
    identity: Identity = field(default_factory=Identity)
    passthrough: frozenset[str] = PASSTHROUGH_METHODS
    max_argument_bytes: int = 16_384
    """Arguments larger than this (as JSON) are not sent: a caveat on them then lacks context (a deny)."""
    extra_context: Mapping[str, Any] | None = None
    """Merged into every check's context (the gateway puts its name here)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the subject and its claimed chain (``via``, RFC 8693 ``act``)."""

    subject: SubjectRef
    via: tuple[SubjectRef, ...] = ()

    def __str__(self) -> str:
        return " -> ".join(str(s) for s in self.via) if self.via else str(self.subject)


@dataclass(frozen=True, slots=True)
class Target:
    """One MCP request as a check."""

    method: str
    name: str
    resource: ObjectRef
    permission: str
    context: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fail-closed answer for one request."""

    allowed: bool
    reason: str
    decision_id: str | None = None
    detail: str = ""
    target: Target | None = None

    def message(self) -> str:
        """The refusal's one line (for the JSON-RPC error)."""
        what = f"{self.target.permission} on {self.target.resource}" if self.target else "this request"
        text = f"rebac denied {what}: {self.reason}"
        if self.detail:
            text += f" ({self.detail})"
        if self.decision_id:
            text += f"; decision {self.decision_id}"
        return text

    def error_data(self) -> dict[str, Any]:
        """The JSON-RPC error's ``data``: reason, decision id, resource, permission, detail."""
        data: dict[str, Any] = {"reason": self.reason, "decisionId": self.decision_id}
        if self.target is not None:
            data["resource"] = str(self.target.resource)
            data["permission"] = self.target.permission
        if self.detail:
            data["detail"] = self.detail
        return data

    def error(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` member."""
        return {"code": DENIED_CODE, "message": self.message(), "data": self.error_data()}


def _claim_id(claims: Mapping[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def actor_from_claims(claims: Mapping[str, Any], identity: Identity | None = None) -> Actor:
    """The subject and chain of a validated token's claims (see the module docstring).

    Raises:
        ClaimsError: no subject claim, or an ``act`` claim that is not an object with a subject.
    """
    rules = identity or Identity()
    sub = _claim_id(claims, (rules.subject_claim,))
    if sub is None:
        raise ClaimsError(f"the token has no {rules.subject_claim!r} claim")
    user = SubjectRef(rules.user_type, sub)
    client = _claim_id(claims, rules.client_claims)
    if client is None:
        return Actor(user)
    chain = [SubjectRef(rules.agent_type, client)]
    act = claims.get(rules.act_claim)
    depth = 0
    while act is not None:
        depth += 1
        actor = _claim_id(act, (rules.subject_claim,)) if isinstance(act, Mapping) else None
        if actor is None or depth > 32:
            raise ClaimsError(
                f"the {rules.act_claim!r} claim must nest objects with a {rules.subject_claim!r}"
            )
        ref = SubjectRef(rules.actor_type, actor)
        if ref != chain[-1]:  # the current actor is usually the client itself
            chain.append(ref)
        act = act.get(rules.act_claim)
    return Actor(chain[0], (*chain, user))


def _arguments_context(arguments: Any, limit: int) -> dict[str, Any]:
    text = json.dumps(arguments, separators=(",", ":"), default=str)
    if len(text.encode()) > limit:
        return {"arguments_truncated": True, "arguments_bytes": len(text.encode())}
    return {"arguments": arguments if arguments is not None else {}}


def target_of(method: str, params: Mapping[str, Any] | None, policy: Policy) -> Target | None:
    """The check one request needs; ``None`` for a method that names nothing to protect.

    Raises:
        NotMappedError: a method the mapping does not know.
        InvalidInputError: a request missing its name or URI.
    """
    if method in policy.passthrough or method.startswith("notifications/") or method in LIST_METHODS:
        return None
    params = params or {}
    extra = dict(policy.extra_context or {})
    if method == "tools/call":
        name = _name(params, "name")
        context = {
            **extra,
            **_arguments_context(params.get("arguments"), policy.max_argument_bytes),
            "tool": name,
        }
        return Target(method, name, ObjectRef(policy.tool.type, name), policy.tool.permission, context)
    if method in {"resources/read", "resources/subscribe", "resources/unsubscribe"}:
        uri = _name(params, "uri")
        return Target(
            method, uri, ObjectRef(policy.resource.type, uri), policy.resource.permission, extra or None
        )
    if method == "prompts/get":
        name = _name(params, "name")
        return Target(
            method, name, ObjectRef(policy.prompt.type, name), policy.prompt.permission, extra or None
        )
    raise NotMappedError(f"the MCP method {method!r} is not mapped to a check (refused)")


def _name(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"params.{key} must be a non-empty string")
    return value


def list_rule(method: str, policy: Policy) -> tuple[Rule, str]:
    """The rule of a list method's items and the member naming each item."""
    if method == "tools/list":
        return policy.tool, "name"
    if method == "resources/list":
        return policy.resource, "uri"
    if method == "prompts/list":
        return policy.prompt, "name"
    raise NotMappedError(f"{method!r} is not a list method")


def _verdict(decision: Decision, target: Target) -> Verdict:
    return Verdict(decision.allowed, decision.reason.value, decision.decision_id, decision.detail, target)


def decision_client(endpoint: str, key: str | None, *, source: str, timeout: float = 2.0) -> AsyncClient:
    """An SDK client whose decisions the server records with ``source`` (``docs/agents.md``).

    ``read_your_writes`` is off: an enforcement point reads at the server's default freshness.
    """
    return AsyncClient(
        endpoint, key=key, timeout=timeout, read_your_writes=False, headers={DECISION_SOURCE_HEADER: source}
    )


class Authorizer:
    """Decides MCP requests through the SDK, failing closed, and logs every refusal locally.

    Args:
        client: The SDK client (see :func:`decision_client`).
        policy: The mapping.
    """

    def __init__(self, client: AsyncClient, policy: Policy | None = None) -> None:
        self.client = client
        self.policy = policy or Policy()

    async def authorize(self, actor: Actor, method: str, params: Mapping[str, Any] | None) -> Verdict:
        """The verdict on one request (allowed for methods that name nothing to protect)."""
        try:
            target = target_of(method, params, self.policy)
        except InvalidInputError as exc:
            log.warning("refused %s for %s: %s", method, actor, exc)
            reason = "not_mapped" if isinstance(exc, NotMappedError) else "invalid_request"
            return Verdict(allowed=False, reason=reason, detail=str(exc))
        if target is None:
            return Verdict(allowed=True, reason="not_checked")
        decision = await self.client.decide(
            target.resource, target.permission, actor.subject, context=target.context, via=actor.via or None
        )
        verdict = _verdict(decision, target)
        if not verdict.allowed:
            level = (
                logging.ERROR
                if decision.reason in {Reason.ERROR, Reason.OUTAGE, Reason.TIMEOUT}
                else logging.INFO
            )
            log.log(
                level,
                "denied %s %s for %s: %s %s (decision %s)",
                method,
                target.name,
                actor,
                verdict.reason,
                verdict.detail,
                verdict.decision_id,
            )
        return verdict

    async def visible(self, actor: Actor, method: str, names: Sequence[str]) -> set[str]:
        """Which of a list's item names the actor may use: one bulk check; an error hides them all.

        An item whose answer is conditional (a caveat on the call's arguments) is listed; each call
        is then decided with its arguments.
        """
        if not names:
            return set()
        rule, _ = list_rule(method, self.policy)
        extra = dict(self.policy.extra_context or {})
        items = {
            name: BulkCheck(
                resource=ObjectRef(rule.type, name),
                permission=rule.permission,
                subject=actor.subject,
                via=actor.via,
                context={**extra, "tool": name} if method == "tools/list" else (extra or None),
            )
            for name in dict.fromkeys(names)
        }
        try:
            results = await self.client.check_bulk(items)
        except Exception as exc:  # noqa: BLE001 - fail closed: an outage lists nothing
            log.error("hid every item of %s for %s: %s: %s", method, actor, type(exc).__name__, exc)  # noqa: TRY400
            return set()
        shown = {Permissionship.HAS_PERMISSION, Permissionship.CONDITIONAL_PERMISSION}
        return {
            name
            for name, result in results.items()
            if result.error is None and result.permissionship in shown
        }

    async def filter_items(
        self, actor: Actor, method: str, items: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """``items`` (a list result's dicts) keeping only the visible ones, in order."""
        _, key = list_rule(method, self.policy)
        names = [str(item.get(key, "")) for item in items]
        allowed = await self.visible(actor, method, [n for n in names if n])
        return [item for item, name in zip(items, names, strict=True) if name in allowed]
