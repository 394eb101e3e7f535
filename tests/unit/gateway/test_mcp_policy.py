"""The MCP mapping: who acts (claims, RFC 8693 ``act``), what each request checks, the refusal."""

from __future__ import annotations

from typing import Any

import pytest

from rebac.errors import InvalidInputError
from rebac.integrations.mcp_policy import (
    DENIED_CODE,
    Actor,
    ClaimsError,
    Identity,
    NotMappedError,
    Policy,
    Rule,
    Target,
    Verdict,
    actor_from_claims,
    target_of,
)
from rebac.refs import ObjectRef, SubjectRef


def test_user_token() -> None:
    assert actor_from_claims({"sub": "alice"}) == Actor(SubjectRef("user", "alice"))


@pytest.mark.parametrize("claim", ["client_id", "azp"])
def test_agent_token(claim: str) -> None:
    actor = actor_from_claims({"sub": "alice", claim: "bot"})
    assert actor.subject == SubjectRef("agent", "bot")
    assert actor.via == (SubjectRef("agent", "bot"), SubjectRef("user", "alice"))
    assert str(actor) == "agent:bot -> user:alice"


def test_nested_act_in_order_and_the_client_not_repeated() -> None:
    claims = {"sub": "alice", "client_id": "sub1", "act": {"sub": "sub1", "act": {"sub": "planner"}}}
    actor = actor_from_claims(claims)
    assert [str(s) for s in actor.via] == ["agent:sub1", "agent:planner", "user:alice"]


def test_configured_names() -> None:
    rules = Identity(
        user_type="person", agent_type="bot", actor_type="svc", subject_claim="uid", act_claim="actor"
    )
    actor = actor_from_claims({"uid": "u@x", "azp": "c.1", "actor": {"uid": "hop"}}, rules)
    assert [str(s) for s in actor.via] == ['bot:"c.1"', "svc:hop", 'person:"u@x"']


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": ""},
        {"sub": 3},
        {"sub": "a", "client_id": "c", "act": "x"},
        {"sub": "a", "azp": "c", "act": {}},
    ],
)
def test_unusable_claims_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(ClaimsError):
        actor_from_claims(claims)


def test_deep_act_is_refused() -> None:
    act: dict[str, Any] = {"sub": "last"}
    for n in range(40):
        act = {"sub": f"a{n}", "act": act}
    with pytest.raises(ClaimsError):
        actor_from_claims({"sub": "alice", "client_id": "c", "act": act})


def test_default_table() -> None:
    policy = Policy()
    call = target_of("tools/call", {"name": "mcp.search", "arguments": {"q": 1}}, policy)
    assert call == Target(
        "tools/call",
        "mcp.search",
        ObjectRef("tool", "mcp.search"),
        "call",
        {"arguments": {"q": 1}, "tool": "mcp.search"},
    )
    read = target_of("resources/read", {"uri": "file:///a b"}, policy)
    assert read is not None
    assert (read.resource, read.permission) == (ObjectRef("mcp_resource", "file:///a b"), "read")
    prompt = target_of("prompts/get", {"name": "p"}, policy)
    assert prompt is not None
    assert (prompt.resource, prompt.permission) == (ObjectRef("prompt", "p"), "get")
    for method in ("initialize", "ping", "tools/list", "notifications/initialized"):
        assert target_of(method, {}, policy) is None


def test_configured_rules_and_extra_context() -> None:
    policy = Policy(tool=Rule("mcp/tool", "invoke"), extra_context={"gateway": "g1"})
    call = target_of("tools/call", {"name": "x"}, policy)
    assert call is not None
    assert (call.resource, call.permission) == (ObjectRef("mcp/tool", "x"), "invoke")
    assert call.context == {"gateway": "g1", "arguments": {}, "tool": "x"}


def test_large_arguments_are_not_sent() -> None:
    call = target_of(
        "tools/call", {"name": "x", "arguments": {"blob": "y" * 100}}, Policy(max_argument_bytes=50)
    )
    assert call is not None
    assert call.context == {"arguments_truncated": True, "arguments_bytes": 111, "tool": "x"}


def test_unknown_methods_and_missing_names_are_refused() -> None:
    with pytest.raises(NotMappedError):
        target_of("sampling/createMessage", {}, Policy())
    with pytest.raises(InvalidInputError):
        target_of("tools/call", {"name": ""}, Policy())
    with pytest.raises(InvalidInputError):
        target_of("resources/read", {}, Policy())


def test_refusal_names_the_reason_and_the_decision() -> None:
    target = Target("tools/call", "rm", ObjectRef("tool", "rm"), "call")
    verdict = Verdict(
        allowed=False, reason="delegation", decision_id="d-1", detail="user:alice: denied", target=target
    )
    error = verdict.error()
    assert error["code"] == DENIED_CODE
    assert error["message"] == "rebac denied call on tool:rm: delegation (user:alice: denied); decision d-1"
    assert error["data"] == {
        "reason": "delegation",
        "decisionId": "d-1",
        "resource": "tool:rm",
        "permission": "call",
        "detail": "user:alice: denied",
    }
