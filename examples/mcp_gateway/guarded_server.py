"""The demo MCP server with rebac inside it (FastMCP middleware) instead of a gateway in front.

Environment: ``REBAC_ENDPOINT`` and ``REBAC_KEY`` (the rebac server), ``MCP_JWT_PUBLIC_KEY`` (a
PEM file that verifies callers' tokens), ``MCP_JWT_ISSUER`` and ``MCP_JWT_AUDIENCE``. Run
``python guarded_server.py PORT``; it serves streamable HTTP at ``/mcp``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fastmcp.server.auth.providers.jwt import JWTVerifier
from server import mcp

from rebac.integrations.fastmcp import RebacMiddleware
from rebac.integrations.mcp_policy import Authorizer, decision_client


def main(port: int) -> None:
    """Serve the demo tools, each call decided by rebac."""
    mcp.auth = JWTVerifier(
        public_key=Path(os.environ["MCP_JWT_PUBLIC_KEY"]).read_text(encoding="utf-8"),
        issuer=os.environ["MCP_JWT_ISSUER"],
        audience=os.environ["MCP_JWT_AUDIENCE"],
    )
    client = decision_client(os.environ["REBAC_ENDPOINT"], os.environ.get("REBAC_KEY"), source="mcp-server")
    mcp.add_middleware(RebacMiddleware(Authorizer(client)))
    mcp.run(transport="http", host="127.0.0.1", port=port, path="/mcp", show_banner=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
