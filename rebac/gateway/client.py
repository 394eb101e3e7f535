"""The SDK client of the gateway's decisions (on :mod:`rebac.gateway.http1` for ``http://``)."""

from __future__ import annotations

from typing import Final

from rebac.client import AsyncClient
from rebac.gateway.transport import Http1Transport
from rebac.integrations.mcp_policy import DECISION_SOURCE_HEADER

__all__ = ["GATEWAY_SOURCE", "gateway_client"]

GATEWAY_SOURCE: Final = "mcp-gateway"
"""The source of the gateway's decisions in the decision log."""


def gateway_client(endpoint: str, key: str | None, *, timeout: float = 2.0, lean: bool = True) -> AsyncClient:
    """The SDK client of the gateway's decisions: source ``mcp-gateway``, read-your-writes off.

    For an ``http://`` endpoint (and ``lean``) it runs on :class:`Http1Transport`; otherwise on
    httpx's own transport. It is :func:`rebac.integrations.mcp_policy.decision_client` with a
    transport (the integrations do not import httpx).
    """
    transport = Http1Transport() if lean and endpoint.startswith("http://") else None
    return AsyncClient(
        endpoint,
        key=key,
        timeout=timeout,
        read_your_writes=False,
        headers={DECISION_SOURCE_HEADER: GATEWAY_SOURCE},
        transport=transport,
    )
