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
    assert "httpx" not in loaded  # loaded with the first client (it costs about 100 ms)
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
    import msgspec  # noqa: PLC0415 - only this test needs it

    import rebac.client as sdk  # noqa: PLC0415 - the module under test

    shown = set()
    for name in sdk.__all__:
        value = getattr(sdk, name)
        if isinstance(value, type) and value.__module__.startswith("rebac.client"):
            # Structs keep their module: msgspec resolves their annotations there
            expected = "rebac.client" if not issubclass(value, msgspec.Struct) else value.__module__
            assert value.__module__ == expected, name
            shown.add(value.__module__)
    assert "rebac.client" in shown
    decoded = msgspec.json.decode(
        b'{"decisionId": "d", "decidedAt": "2030-01-01T00:00:00Z", "source": "check",'
        b' "subject": "user:a", "permission": "view", "resource": "doc:1", "result": "allowed",'
        b' "reason": "granted", "latencyMs": 0.1}',
        type=sdk.DecisionRecord,
    )
    assert decoded.decided_at.year == 2030


LAZY = """
import json, sys
import rebac.client
before = "httpx" in sys.modules
client = rebac.client.Client("http://127.0.0.1:9")
print(json.dumps([before, "httpx" in sys.modules, client.ready()]))
"""


def test_httpx_is_imported_with_the_first_client() -> None:
    done = subprocess.run(  # noqa: S603 - the interpreter running the tests
        [sys.executable, "-c", LAZY], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == [False, True, False]  # nothing listens on port 9: not ready


def test_a_plain_http_server_gets_a_tls_context_that_trusts_nothing() -> None:
    import ssl  # noqa: PLC0415 - only this test needs it

    from rebac.client._base import unverified_tls  # noqa: PLC0415

    context = unverified_tls("http://127.0.0.1:8080")
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() == []
    assert unverified_tls("https://rebac.example") is None
