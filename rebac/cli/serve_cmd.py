"""``rebac serve``: the HTTP API on granian (one worker), on the embedded database by default.

Granian was chosen over uvicorn by measurement (``scripts/bench_http.py``; numbers in
``docs/api.md``). The worker builds the app with :func:`app_from_env`, a factory (no module-level
app), from the same ``REBAC_*`` environment the command sets from its options.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Final

import click
from granian import Granian
from granian.constants import Interfaces
from litestar import Litestar

from rebac.api.app import create_app
from rebac.config import Settings
from rebac.refs import parse_relationship
from rebac.services.core import Services
from rebac.services.types import Operation, RelationshipUpdate

__all__ = ["DEMO_RELATIONSHIPS", "DEMO_SCHEMA", "app_from_env", "demo_curl", "serve_cmd"]

_ROOT: Final = Path(__file__).resolve().parents[2]
DEMO_SCHEMA: Final = _ROOT / "schema" / "agents.zed"
DEMO_RELATIONSHIPS: Final = _ROOT / "schema" / "agents_demo.txt"
_DEMO_FLAG: Final = "REBAC_DEMO"


async def load_demo(services: Services) -> None:
    """Write ``schema/agents.zed`` (forced) and TOUCH its sample relationships (idempotent)."""
    await services.schemas.write(DEMO_SCHEMA.read_text(encoding="utf-8"), author="demo", force=True)
    lines = DEMO_RELATIONSHIPS.read_text(encoding="utf-8").splitlines()
    relationships = [parse_relationship(line) for line in lines if line.strip() and not line.startswith("//")]
    current = await services.engines.current()
    await services.relationships.write(
        current, [RelationshipUpdate(Operation.TOUCH, rel) for rel in relationships]
    )


def app_from_env() -> Litestar:
    """Granian's factory target: the app for the ``REBAC_*`` environment (demo data if asked)."""
    settings = Settings.from_env()
    if os.environ.get(_DEMO_FLAG) != "1" or settings.api.preshared_key is None:
        return create_app(settings)
    key = settings.api.preshared_key

    async def seed(services: Services) -> None:
        await load_demo(services)
        click.echo("demo data loaded; try (alice may view the roadmap):\n")
        click.echo(demo_curl(settings.api.host, settings.api.port, key) + "\n")
        sys.stdout.flush()

    return create_app(settings, seed=seed)


def demo_curl(host: str, port: int, key: str) -> str:
    """A ready-to-paste curl check against the demo data (alice may view the roadmap).

    It asks for a fully consistent read: the default (``minimizeLatency``) may answer from a
    revision a few seconds old, which right after startup predates the data.
    """
    body = (
        '{"resource":{"objectType":"document","objectId":"roadmap"},"permission":"view",'
        '"subject":{"object":{"objectType":"user","objectId":"alice"}},'
        '"consistency":{"fullyConsistent":true}}'
    )
    return (
        f"curl -s http://{host}:{port}/v1/permissions/check \\\n"
        f"  -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )


@click.command("serve")
@click.option("--host", default=None, help="Bind address (default: REBAC_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: REBAC_PORT or 8080).")
@click.option(
    "--demo", is_flag=True, help="Load schema/agents.zed and sample relationships; print a curl check."
)
@click.option(
    "--preshared-key",
    default=None,
    help="Admin API key (default: REBAC_PRESHARED_KEY; --demo generates one if neither is set).",
)
def serve_cmd(host: str | None, port: int | None, demo: bool, preshared_key: str | None) -> None:
    """Serve the HTTP API (embedded PostgreSQL unless REBAC_DATABASE_URL is set)."""
    settings = Settings.from_env()
    bind_host = host or settings.api.host
    bind_port = port if port is not None else settings.api.port
    key = preshared_key or settings.api.preshared_key
    if key is None and demo:
        key = secrets.token_urlsafe(24)  # a demo is for a person at a terminal: the key goes in the curl
    os.environ.update({"REBAC_HOST": bind_host, "REBAC_PORT": str(bind_port)})
    if key is not None:
        os.environ["REBAC_PRESHARED_KEY"] = key
    else:
        click.echo(
            "no preshared key (--preshared-key / REBAC_PRESHARED_KEY): only scoped keys from "
            "`rebac keys create` are accepted",
            err=True,
        )
    if demo and key is not None:
        os.environ[_DEMO_FLAG] = "1"
        click.echo("demo: loading schema/agents.zed and its sample relationships ...")
    sys.stdout.flush()
    Granian(
        "rebac.cli.serve_cmd:app_from_env",
        address=bind_host,
        port=bind_port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_access=False,
    ).serve()
