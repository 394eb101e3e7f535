"""``import rebac.client`` stays light: no server-side stack, measured in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "litestar",
    "sqlalchemy",
    "psycopg",
    "psycopg_pool",
    "networkx",
    "alembic",
    "granian",
    "pgserver",
)
SERVER_SIDE = (
    "rebac.api",
    "rebac.services",
    "rebac.store",
    "rebac.engine",
    "rebac.schema",
    "rebac.config",
    "rebac.cli",
)

PROBE = """
import json, sys
import rebac.client
mods = sorted(sys.modules)
print(json.dumps(mods))
"""


def _modules(code: str) -> list[str]:
    done = subprocess.run(  # noqa: S603 - the interpreter running the tests
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    found: list[str] = json.loads(done.stdout)
    return found


def test_import_pulls_in_no_server_stack() -> None:
    loaded = _modules(PROBE)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == []
    server = [m for m in loaded if m.split(".")[:2] in [["rebac", part] for part in SERVER_SIDE]]
    assert server == []
    assert "httpx" in loaded
    assert "msgspec" in loaded
    rebac_modules = {m for m in loaded if m == "rebac" or m.startswith("rebac.")}
    assert {m for m in rebac_modules if not m.startswith("rebac.client")} <= {
        "rebac",
        "rebac.errors",
        "rebac.refs",
        "rebac.limits",
        "rebac.opaque",
    }


def test_public_names_show_the_public_module() -> None:
    import rebac.client as sdk  # noqa: PLC0415 - the module under test

    for name in sdk.__all__:
        value = getattr(sdk, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, type) and module is not None and module.startswith("rebac.client"):
            assert module == "rebac.client", name
