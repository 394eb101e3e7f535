"""The gateway's settings: the ``--config`` YAML file, overridden by the command's flags.

Every key is optional (``docs/agents.md`` lists them); an unknown key or a wrong type is an error,
so a typo never weakens the mapping silently::

    name: gw-1
    listen: 127.0.0.1:8765
    path: /mcp
    upstream: http://127.0.0.1:9000/mcp        # or upstream_command: "python server.py"
    endpoint: http://127.0.0.1:8080
    jwks: jwks.json                           # a file or an https:// URL
    issuer: https://idp.example
    audience: http://127.0.0.1:8765/mcp
    resource: http://127.0.0.1:8765/mcp       # RFC 9728 "resource" (default: the audience)
    timeout: 2.0                              # seconds for a rebac decision
    upstream_timeout: 60.0
    mapping:
      tool: {type: tool, permission: call}
      resource: {type: mcp_resource, permission: read}
      prompt: {type: prompt, permission: get}
      passthrough: [initialize, ping, ...]    # methods that are not checked (replaces the default)
      max_argument_bytes: 16384
    identity:
      user_type: user
      agent_type: agent
      actor_type: agent
      subject_claim: sub
      client_claims: [client_id, azp]
      act_claim: act
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from rebac.errors import InvalidInputError
from rebac.integrations.mcp_policy import Identity, Policy, Rule

__all__ = ["GatewayConfig", "load_config"]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything ``rebac mcp-gateway`` needs."""

    name: str = "mcp-gateway"
    listen: str = "127.0.0.1:8765"
    path: str = "/mcp"
    upstream: str | None = None
    upstream_command: str | None = None
    endpoint: str = "http://127.0.0.1:8080"
    key: str | None = None
    jwks: str | None = None
    issuer: str | None = None
    audience: str | None = None
    resource: str | None = None
    timeout: float = 2.0
    upstream_timeout: float = 60.0
    policy: Policy = field(default_factory=Policy)

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split (``HOST:PORT``)."""
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidInputError(f"--listen must be HOST:PORT, not {self.listen!r}")
        return host.strip("[]"), int(port)

    def checked(self) -> GatewayConfig:
        """This config, if complete and consistent.

        Raises:
            InvalidInputError: no upstream or two, or no JWKS, issuer or audience.
        """
        if (self.upstream is None) == (self.upstream_command is None):
            raise InvalidInputError("give exactly one of --upstream URL and --upstream-command CMD")
        missing = [n for n in ("jwks", "issuer", "audience") if not getattr(self, n)]
        if missing:
            raise InvalidInputError(f"the gateway needs {', '.join('--' + m for m in missing)}")
        if not self.path.startswith("/"):
            raise InvalidInputError(f"path must start with '/', not {self.path!r}")
        self.host_port  # noqa: B018 - validates listen
        return self

    def with_overrides(self, **values: Any) -> GatewayConfig:
        """This config with the flags that were given (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _section(raw: Any, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InvalidInputError(f"{what} must be a mapping")
    return dict(raw)


def _known(values: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidInputError(
            f"unknown key(s) in {what}: {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a non-empty string")
    return value


def _rule(raw: Any, default: Rule, what: str) -> Rule:
    values = _section(raw, what)
    _known(values, {"type", "permission"}, what)
    return Rule(
        _str(values.get("type", default.type), f"{what}.type"),
        _str(values.get("permission", default.permission), f"{what}.permission"),
    )


def _identity(raw: Any) -> Identity:
    values = _section(raw, "identity")
    base = Identity()
    _known(values, {f.name for f in fields(Identity)}, "identity")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "client_claims":
            if not isinstance(value, list) or not value:
                raise InvalidInputError("identity.client_claims must be a non-empty list of claim names")
            out[name] = tuple(_str(v, "identity.client_claims[]") for v in value)
        else:
            out[name] = _str(value, f"identity.{name}")
    return replace(base, **out)


def _policy(raw: Any, identity: Identity) -> Policy:
    values = _section(raw, "mapping")
    _known(values, {"tool", "resource", "prompt", "passthrough", "max_argument_bytes"}, "mapping")
    base = Policy()
    passthrough = base.passthrough
    if "passthrough" in values:
        listed = values["passthrough"]
        if not isinstance(listed, list):
            raise InvalidInputError("mapping.passthrough must be a list of MCP method names")
        passthrough = frozenset(_str(v, "mapping.passthrough[]") for v in listed)
    limit = values.get("max_argument_bytes", base.max_argument_bytes)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise InvalidInputError("mapping.max_argument_bytes must be a non-negative integer")
    return Policy(
        tool=_rule(values.get("tool"), base.tool, "mapping.tool"),
        resource=_rule(values.get("resource"), base.resource, "mapping.resource"),
        prompt=_rule(values.get("prompt"), base.prompt, "mapping.prompt"),
        identity=identity,
        passthrough=passthrough,
        max_argument_bytes=limit,
    )


_TOP = {f.name for f in fields(GatewayConfig)} - {"policy", "key"} | {"mapping", "identity"}


def load_config(path: str | Path | None) -> GatewayConfig:
    """The config of a YAML file (the defaults when ``path`` is ``None``).

    Raises:
        InvalidInputError: an unreadable file, an unknown key or a wrong type.
    """
    if path is None:
        return GatewayConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read the gateway config {path}: {exc}") from exc
    values = _section(raw, f"the gateway config {path}")
    _known(values, _TOP, "the gateway config")
    policy = _policy(values.pop("mapping", None), _identity(values.pop("identity", None)))
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in {"timeout", "upstream_timeout"}:
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise InvalidInputError(f"{name} must be a positive number of seconds")
            out[name] = float(value)
        else:
            out[name] = _str(value, name)
    return GatewayConfig(policy=policy, **out)
