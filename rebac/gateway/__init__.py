"""``rebac mcp-gateway``: a proxy in front of any MCP server that asks rebac before every action.

:func:`build_app` composes it from a :class:`~rebac.gateway.config.GatewayConfig`: the token
validator (:mod:`rebac.gateway.tokens`), the SDK client whose decisions are recorded with source
``mcp-gateway`` (:func:`rebac.integrations.mcp_policy.decision_client`), the upstream
(:mod:`rebac.gateway.upstream`) and the ASGI app (:mod:`rebac.gateway.proxy`). :func:`serve` runs
it with uvicorn. See ``docs/agents.md``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from rebac.gateway.client import GATEWAY_SOURCE, gateway_client
from rebac.gateway.config import GatewayConfig, load_config
from rebac.gateway.proxy import GatewayApp
from rebac.gateway.tokens import JwksSource, TokenValidator
from rebac.gateway.upstream import HttpUpstream, StdioUpstream, Upstream
from rebac.integrations.mcp_policy import Authorizer

__all__ = [
    "GATEWAY_SOURCE",
    "GatewayApp",
    "GatewayConfig",
    "build_app",
    "gateway_client",
    "load_config",
    "serve",
]


def build_app(config: GatewayConfig) -> GatewayApp:
    """The gateway's ASGI app (the upstream starts with the app's lifespan).

    Raises:
        InvalidInputError: an incomplete config.
        InvalidInputError: also a JWKS file that cannot be read or is not a usable key set.
    """
    config = config.checked()
    jwks, issuer, audience = config.jwks or "", config.issuer or "", config.audience or ""
    tokens = TokenValidator(JwksSource(jwks), issuer=issuer, audience=audience)
    policy = replace(config.policy, extra_context={"gateway": config.name})
    client = gateway_client(config.endpoint, config.key, timeout=config.timeout)
    upstream: Upstream
    if config.upstream is not None:
        upstream = HttpUpstream(config.upstream, timeout=config.upstream_timeout)
    else:
        assert config.upstream_command is not None  # noqa: S101 - checked() ensures one
        upstream = StdioUpstream(config.upstream_command, timeout=config.upstream_timeout)
    return GatewayApp(
        tokens,
        Authorizer(client, policy),
        upstream,
        path=config.path,
        resource=config.resource or audience,
        authorization_servers=[issuer],
        name=config.name,
    )


def serve(config: GatewayConfig) -> None:
    """Run the gateway until interrupted (uvicorn, one process)."""
    import uvicorn  # noqa: PLC0415 - the server loads with the command

    for name in ("httpx", "httpcore"):  # a line per request on the hot path otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    app = build_app(config)
    host, port = config.host_port
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,  # nothing here reads the client's address: no middleware per request
        server_header=False,
        date_header=False,
    )
