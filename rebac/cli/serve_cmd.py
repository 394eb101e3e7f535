"""``rebac serve``: the HTTP API on granian (``--workers N`` processes), on the embedded database by default.

Granian was chosen over uvicorn by measurement (``scripts/bench_http.py``; numbers in
``docs/api.md``). The worker builds the app with :func:`app_from_env`, a factory (no module-level
app), from the same ``REBAC_*`` environment the command sets from its options.

**Start-up, step by step.** Before granian starts, the command checks the database (see
:func:`rebac.api.app.serving_database`) and says each step in one line on standard error:
``creating a new embedded database in ...`` (a fresh ``REBAC_HOME``) or ``starting the embedded
database in ...``, ``migrating ...`` or ``using the database at ...``. A database that cannot
serve (unreachable, not migrated, a bad ``REBAC_DATABASE_URL``) ends the command with one line
saying what to do and exit status 1. Once the app is up, the worker prints
``listening at http://HOST:PORT``.

**--demo never replaces or orphans anything.** On a store with no schema it writes
``schema/agents.zed`` and the sample relationships. On a store whose current schema is exactly the
demo schema (a second ``--demo``), it adds back the sample relationships that are missing and
changes none that exist. On a store with any other schema it writes nothing and says so in one
line (use a fresh ``REBAC_HOME``, or an empty database, for the demo); the server then serves
that store as it is. ``--demo`` runs one worker (several would each try to load the data).

**Several workers** (``--workers N`` or ``REBAC_WORKERS``; default 1). Granian starts N worker
processes that share the listening socket; each builds its own app with :func:`app_from_env`,
with its own pools, its own relationship index following the change log and its own decision-log
writer: nothing is shared in memory, so a worker is what a separate ``rebac serve`` would be.
Consistency tokens name a store revision, so every worker honours every other's tokens, and each
worker's decisions carry its own decision point (``host:pid``, or ``REBAC_INSTANCE_NAME:pid``
when that is set). Before any worker starts, the command checks that N workers' connections fit
the database's ``max_connections`` (see :mod:`rebac.store.postgres.capacity`).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from rebac.config import Settings
from rebac.errors import ConflictError, RebacError
from rebac.refs import parse_relationship

if TYPE_CHECKING:
    from rebac.api.app import AsgiApp
    from rebac.services.core import Services
    from rebac.services.types import RelationshipUpdate

__all__ = [
    "DEMO_RELATIONSHIPS",
    "DEMO_SCHEMA",
    "DemoOutcome",
    "app_from_env",
    "demo_curl",
    "per_worker",
    "serve_cmd",
]

_ROOT: Final = Path(__file__).resolve().parents[2]
DEMO_SCHEMA: Final = _ROOT / "schema" / "agents.zed"
DEMO_RELATIONSHIPS: Final = _ROOT / "schema" / "agents_demo.txt"
_DEMO_FLAG: Final = "REBAC_DEMO"


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What ``--demo`` did: whether the demo data is being served, and the line that says so."""

    loaded: bool
    message: str


def _say(line: str) -> None:
    click.echo(f"rebac: {line}", err=True)


async def _missing(services: Services) -> list[RelationshipUpdate]:
    """CREATE updates of the sample relationships that are not stored (in any form)."""
    from rebac.services.types import (  # noqa: PLC0415 - the services load when the server starts
        Consistency,
        ConsistencyMode,
        Operation,
        RelationshipFilter,
        RelationshipUpdate,
    )

    full = Consistency(ConsistencyMode.FULLY_CONSISTENT)
    lines = DEMO_RELATIONSHIPS.read_text(encoding="utf-8").splitlines()
    wanted = [parse_relationship(line) for line in lines if line.strip() and not line.startswith("//")]
    missing: list[RelationshipUpdate] = []
    for rel in wanted:
        flt = RelationshipFilter(
            resource_type=rel.resource.type,
            resource_ids=(rel.resource.id,),
            relation=rel.relation,
            subject_type=rel.subject.type,
            subject_ids=(rel.subject.id,),
            subject_relation=rel.subject.relation,
        )
        page = await services.relationships.read(flt, consistency=full, limit=1)
        if not page.relationships:
            missing.append(RelationshipUpdate(Operation.CREATE, rel))
    return missing


async def load_demo(services: Services) -> DemoOutcome:
    """Load the demo schema and sample relationships, unless that would replace or orphan anything.

    See the module docstring: no schema yet -> write both; the demo schema already current -> add
    the missing sample relationships only; another schema -> write nothing. A write that would
    orphan stored relationships, or that races another writer, writes nothing either.
    """
    demo_text = DEMO_SCHEMA.read_text(encoding="utf-8")
    _, current = await services.schemas.history()
    fresh_home = (
        "for the demo, point REBAC_HOME at a new directory (or REBAC_DATABASE_URL at an empty database)"
    )
    if current is not None and current.text != demo_text:
        return DemoOutcome(
            loaded=False,
            message=f"--demo: this store already has another schema (version {current.version}); "
            f"it and its relationships are left alone; {fresh_home}",
        )
    try:
        if current is None:
            await services.schemas.write(demo_text, author="demo", expected_version=0)
        engine = await services.engines.current()
        missing = await _missing(services)
        if missing:
            await services.relationships.write(engine, missing)
    except ConflictError as exc:  # an orphaning schema write, a concurrent writer: nothing was loaded
        return DemoOutcome(loaded=False, message=f"--demo: nothing was loaded ({exc.message}); {fresh_home}")
    if current is None:
        return DemoOutcome(
            loaded=True, message=f"demo: loaded schema/agents.zed and {len(missing)} relationships"
        )
    return DemoOutcome(
        loaded=True,
        message=f"demo: the demo schema is already stored (version {current.version}); "
        f"{len(missing)} missing sample relationships added, none changed",
    )


def app_from_env() -> AsgiApp:
    """Granian's factory target: the app for the ``REBAC_*`` environment (demo data if asked).

    The app reports a failed startup as one line (see :func:`one_line_startup_failures`) and,
    once up, prints ``listening at http://HOST:PORT``.
    """
    from rebac.api.app import create_app, one_line_startup_failures  # noqa: PLC0415 - in the worker

    settings = per_worker(Settings.from_env(), os.getpid())
    host, port = settings.api.host, settings.api.port
    key = settings.api.preshared_key
    demo = os.environ.get(_DEMO_FLAG) == "1" and key is not None

    async def seed(services: Services) -> None:
        if demo and key is not None:
            outcome = await load_demo(services)
            click.echo(outcome.message)
            if outcome.loaded:
                click.echo("try (alice may view the roadmap):\n")
                click.echo(demo_curl(host, port, key) + "\n")
        click.echo(f"rebac: listening at http://{host}:{port}")
        sys.stdout.flush()

    return one_line_startup_failures(create_app(settings, seed=seed))


def per_worker(settings: Settings, pid: int) -> Settings:
    """``settings`` for the worker ``pid``: one of several names its decision point ``NAME:pid``.

    An unset ``REBAC_INSTANCE_NAME`` is ``host:pid`` already; a set one is shared by every
    worker, so with ``--workers`` above 1 each worker adds its pid to it.
    """
    name = settings.decisions.instance_name
    if settings.api.workers == 1 or name is None:
        return settings
    return replace(settings, decisions=replace(settings.decisions, instance_name=f"{name}:{pid}"))


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
    "--demo",
    is_flag=True,
    help="Load schema/agents.zed and sample relationships (never over another schema); print a curl check.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes, each with its own pools and index (default: REBAC_WORKERS or 1).",
)
@click.option(
    "--preshared-key",
    default=None,
    help="Admin API key (default: REBAC_PRESHARED_KEY; --demo generates one if neither is set).",
)
def serve_cmd(
    host: str | None, port: int | None, demo: bool, workers: int | None, preshared_key: str | None
) -> None:
    """Serve the HTTP API (embedded PostgreSQL unless REBAC_DATABASE_URL is set)."""
    from granian import Granian  # noqa: PLC0415 - the server loads when the command runs
    from granian.constants import Interfaces  # noqa: PLC0415

    from rebac.api import app  # noqa: PLC0415

    try:
        settings = Settings.from_env()
    except RebacError as exc:
        raise click.ClickException(exc.message) from None
    count = workers if workers is not None else settings.api.workers
    if demo and count > 1:
        raise click.ClickException("--demo runs one worker (each would load the demo data): drop --workers")
    settings = replace(settings, api=replace(settings.api, workers=count))
    bind_host = host or settings.api.host
    bind_port = port if port is not None else settings.api.port
    key = preshared_key or settings.api.preshared_key
    if key is None and demo:
        key = secrets.token_urlsafe(24)  # a demo is for a person at a terminal: the key goes in the curl
    os.environ.update({"REBAC_HOST": bind_host, "REBAC_PORT": str(bind_port), "REBAC_WORKERS": str(count)})
    if key is not None:
        os.environ["REBAC_PRESHARED_KEY"] = key
    else:
        _say(
            "no preshared key (--preshared-key / REBAC_PRESHARED_KEY): only scoped keys from "
            "`rebac keys create` are accepted"
        )
    if demo and key is not None:
        os.environ[_DEMO_FLAG] = "1"
    try:
        with app.serving_database(settings, say=_say):
            sys.stdout.flush()
            Granian(
                "rebac.cli.serve_cmd:app_from_env",
                address=bind_host,
                port=bind_port,
                interface=Interfaces.ASGI,
                workers=count,
                factory=True,
                log_access=False,
            ).serve()
    except RebacError as exc:
        raise click.ClickException(exc.message) from None
