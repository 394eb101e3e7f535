"""The gateway's YAML config: defaults, overrides, and every mistake an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebac.errors import InvalidInputError
from rebac.gateway.config import GatewayConfig, load_config
from rebac.integrations.mcp_policy import PASSTHROUGH_METHODS, Rule


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    config = load_config(None)
    assert config == GatewayConfig()
    assert config.policy.tool == Rule("tool", "call")
    assert config.policy.passthrough == PASSTHROUGH_METHODS


def test_a_full_file(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
name: gw-eu
listen: 0.0.0.0:9100
upstream: http://127.0.0.1:9000/mcp
jwks: https://idp.example/jwks.json
issuer: https://idp.example
audience: https://gw.example/mcp
timeout: 1
mapping:
  tool: {type: mcp/tool, permission: invoke}
  passthrough: [initialize, ping]
  max_argument_bytes: 1024
identity:
  user_type: person
  client_claims: [azp]
""",
        )
    ).checked()
    assert config.host_port == ("0.0.0.0", 9100)  # noqa: S104 - parsed, not bound
    assert config.policy.tool == Rule("mcp/tool", "invoke")
    assert config.policy.resource == Rule("mcp_resource", "read")
    assert config.policy.passthrough == frozenset({"initialize", "ping"})
    assert config.policy.identity.user_type == "person"
    assert config.policy.identity.client_claims == ("azp",)
    assert config.timeout == 1.0
    flags = config.with_overrides(name=None, audience="https://other/mcp")
    assert (flags.name, flags.audience) == ("gw-eu", "https://other/mcp")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("upstrem: x", "unknown key"),
        ("key: secret", "unknown key"),
        ("mapping: {tool: {kind: x}}", "unknown key"),
        ("mapping: {tool: {type: ''}}", "mapping.tool.type"),
        ("identity: {client_claims: []}", "client_claims"),
        ("timeout: -1", "timeout"),
        ("mapping: {max_argument_bytes: true}", "max_argument_bytes"),
        ("- a list", "must be a mapping"),
        ("a: [unclosed", "cannot read"),
    ],
)
def test_mistakes_are_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "exactly one of"),
        ({"upstream": "http://u", "upstream_command": "x"}, "exactly one of"),
        ({"upstream": "http://u"}, "--jwks, --issuer, --audience"),
        (
            {"upstream": "http://u", "jwks": "j", "issuer": "i", "audience": "a", "listen": "nope"},
            "HOST:PORT",
        ),
    ],
)
def test_incomplete_configs_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        GatewayConfig().with_overrides(**values).checked()
