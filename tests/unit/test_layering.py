"""The structure rules of ``rebac/`` (DESIGN.md §1, STYLE.md (b), docs/architecture.md).

Imports point down the layers only:

    errors ← refs/limits/opaque ← config ← schema ← store ← engine ← services ← api ← cli

and beyond that:

- above the store, only its contract is imported (``rebac.store``, ``rebac.store.base`` with its
  value types in ``rebac.store.records``, and ``rebac.store.revision``); the concrete engines
  (``rebac.store.postgres``, ``rebac.store.memory``) and the opener (``rebac.store.factory``) are
  imported by the store itself and the composition roots (``rebac.api.app``,
  ``rebac.cli._runtime``) only; inside the store, only the factory imports an engine, and neither
  engine imports the other;
- ``api/`` and ``cli/`` call the service layer and nothing below it (no ``rebac.engine``,
  ``rebac.store`` or ``rebac.schema``), the composition roots aside;
- no module imports another package's private module (``rebac.x._y`` from outside ``rebac.x``);
- third-party layers are fenced (SQLAlchemy and psycopg in the Postgres engine, Litestar in the
  console, the API and the CLI, networkx in the type system and blast radius, httpx in the SDK, the
  CLI and the gateway);
- the SDK (``rebac.client``) sits beside the server stack: it imports nothing of rebac but the
  leaf modules (``rebac.errors``, ``rebac.refs``, ``rebac.limits``, ``rebac.opaque``), and only
  the CLI (and integrations built on the SDK) import it;
- the client side built on the SDK (``rebac.integrations``, the MCP gateway ``rebac.gateway``)
  imports the SDK, itself and the leaf modules only, never the server stack;
- no module of ``rebac/`` is longer than 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rebac"
MAX_MODULE_LINES = 500

LAYERS: list[tuple[str, int]] = [
    ("rebac.errors", 0),
    ("rebac.refs", 1),
    ("rebac.limits", 1),
    ("rebac.opaque", 1),
    ("rebac.client", 2),
    ("rebac.integrations", 2),
    ("rebac.gateway", 2),
    ("rebac.config", 2),
    ("rebac.schema", 3),
    ("rebac.store", 4),
    ("rebac.engine", 5),
    ("rebac.services", 6),
    ("rebac.api", 7),
    ("rebac.console", 7),
    ("rebac.cli", 8),
]
STORE_CONTRACT = {"rebac.store", "rebac.store.base", "rebac.store.records", "rebac.store.revision"}
STORE_ENGINES = ("rebac.store.postgres", "rebac.store.memory")
ENGINE_IMPORTERS = ("rebac.store.factory",)
"""Outside its own package, an engine is imported inside ``rebac.store`` by these modules only."""
COMPOSITION_ROOTS = ("rebac.api.app", "rebac.cli._runtime")
CLIENT = "rebac.client"
CLIENT_MAY_IMPORT = ("rebac.errors", "rebac.refs", "rebac.limits", "rebac.opaque")
"""Besides itself (and the package root, for ``__version__``), the SDK imports these leaves only."""
CLIENT_IMPORTERS = ("rebac.cli.", "rebac.integrations.", "rebac.gateway.")
"""The SDK is imported by the client side only, never by the server stack."""
CLIENT_SIDE = ("rebac.integrations", "rebac.gateway")
"""Built on the SDK: they import the SDK, each other (the gateway on the integrations) and the leaves only."""
CLIENT_SIDE_MAY_IMPORT = (CLIENT, *CLIENT_SIDE, *CLIENT_MAY_IMPORT)
LEAF_IMPORTERS = ("rebac.store.", *COMPOSITION_ROOTS)
SERVICE_CALLERS = ("rebac.api.", "rebac.console", "rebac.cli.")
BELOW_THE_SERVICES = ("rebac.engine", "rebac.store", "rebac.schema")
THIRD_PARTY_FENCES: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("rebac.store.postgres.",),
    "psycopg": ("rebac.store.postgres.",),
    "psycopg_pool": ("rebac.store.postgres.",),
    "alembic": ("rebac.store.postgres.",),
    "pgserver": ("rebac.store.postgres.",),
    "litestar": ("rebac.api.", "rebac.console", "rebac.cli."),
    "msgspec": ("rebac.api.", "rebac.cli.", "rebac.client", "rebac.gateway."),
    "httpx": ("rebac.client", "rebac.cli.", "rebac.gateway."),
    "networkx": ("rebac.schema.typesystem", "rebac.services.blast_radius."),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    if module == "rebac":
        return 1
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    msg = f"module {module} belongs to no layer; add it to LAYERS"
    raise AssertionError(msg)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Absolute module names imported by ``path`` with their line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            # `from rebac.store import postgres` imports the submodule too
            found.extend((f"{name}.{alias.name}", node.lineno) for alias in node.names)
    return found


def engine_of(module: str) -> str | None:
    """The engine package ``module`` belongs to, or ``None``."""
    return next((e for e in STORE_ENGINES if module == e or module.startswith(e + ".")), None)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def private_owner(imported: str) -> str | None:
    """The package that owns ``imported`` when it is a private module (``a.b._c`` -> ``a.b``)."""
    parts = imported.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(
        module == p.rstrip(".") or module.startswith(p if p.endswith(".") else p + ".") for p in prefixes
    )


def violations() -> list[str]:
    problems: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        own = layer_of(importer)
        for imported, line in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            top = imported.split(".")[0]
            if top in THIRD_PARTY_FENCES and not importer.startswith(THIRD_PARTY_FENCES[top]):
                problems.append(f"{where}: {importer} may not import {top}")
            if top != "rebac" or not is_module(imported):
                continue
            if layer_of(imported) > own:
                problems.append(f"{where}: {importer} imports upward: {imported}")
            in_client, of_client = _within(importer, (CLIENT,)), _within(imported, (CLIENT,))
            leaf = imported == "rebac" or _within(imported, CLIENT_MAY_IMPORT)
            if in_client and not of_client and not leaf:
                problems.append(f"{where}: the SDK {importer} imports {imported} (only leaf modules)")
            if (
                _within(importer, CLIENT_SIDE)
                and imported != "rebac"
                and not _within(imported, CLIENT_SIDE_MAY_IMPORT)
            ):
                problems.append(f"{where}: {importer} (built on the SDK) imports {imported}")
            if of_client and not in_client and not importer.startswith(CLIENT_IMPORTERS):
                problems.append(f"{where}: {importer} imports the SDK {imported} (only the client side may)")
            if (
                imported.startswith("rebac.store.")
                and imported not in STORE_CONTRACT
                and not importer.startswith(LEAF_IMPORTERS)
            ):
                problems.append(f"{where}: {importer} imports the store engine {imported}")
            engine = engine_of(imported)
            if (
                engine is not None
                and importer.startswith("rebac.store.")
                and engine_of(importer) != engine
                and importer not in ENGINE_IMPORTERS
            ):
                problems.append(f"{where}: {importer} imports the engine {imported} (only the factory may)")
            if (
                importer.startswith(SERVICE_CALLERS)
                and importer not in COMPOSITION_ROOTS
                and _within(imported, BELOW_THE_SERVICES)
            ):
                problems.append(f"{where}: {importer} reaches below the services: {imported}")
            owner = private_owner(imported)
            if owner is not None and importer != owner and not importer.startswith(owner + "."):
                problems.append(f"{where}: {importer} imports a private module of {owner}: {imported}")
    return problems


def oversized() -> list[str]:
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(ROOT)}: {count} lines")
    return found


def test_imports_point_down_the_layers() -> None:
    assert violations() == []


def test_no_module_is_longer_than_500_lines() -> None:
    assert oversized() == []


def fake_tree(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A minimal ``rebac`` tree under ``root`` that the checker walks instead of the real one."""
    fake = root / "rebac"
    folders = (
        "",
        "engine",
        "api",
        "api/controllers",
        "api/dto",
        "cli",
        "client",
        "schema",
        "services",
        "store",
    )
    for folder in (*folders, "store/memory", "store/postgres"):
        (fake / folder).mkdir(parents=True, exist_ok=True)
        (fake / folder / "__init__.py").write_text("")
    leaves: tuple[str, ...] = ("api/app.py", "api/dto/_core.py", "client/_sync.py", "engine/check.py")
    leaves = (*leaves, "refs.py", "schema/ir.py", "store/_common.py")
    for leaf in (*leaves, "store/factory.py", "store/postgres/models.py", "store/postgres/_sql.py"):
        (fake / leaf).write_text("")
    monkeypatch.setitem(globals(), "ROOT", root)
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    return fake


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("engine/bad.py", "from rebac.api import app\n", "imports upward"),
        ("engine/bad.py", "import sqlalchemy\n", "may not import sqlalchemy"),
        ("engine/bad.py", "from rebac.store import memory\n", "imports the store engine"),
        ("engine/bad.py", "from rebac.store.postgres.models import metadata\n", "imports the store engine"),
        ("engine/bad.py", "from rebac.store.factory import open_store\n", "imports the store engine"),
        ("api/controllers/bad.py", "from rebac.engine import check\n", "reaches below the services"),
        ("cli/bad.py", "from rebac.schema import ir\n", "reaches below the services"),
        ("services/bad.py", "from rebac.api.dto import _core\n", "imports upward"),
        ("api/bad.py", "from rebac.api.dto import _core\n", "private module of rebac.api.dto"),
        ("engine/bad.py", "from rebac.store import _common\n", "private module of rebac.store"),
        ("client/bad.py", "from rebac.schema import ir\n", "the SDK rebac.client.bad imports"),
        ("client/bad.py", "from rebac.api import dto\n", "the SDK rebac.client.bad imports"),
        ("client/bad.py", "import sqlalchemy\n", "may not import sqlalchemy"),
        ("services/bad.py", "from rebac.client import Client\n", "imports the SDK"),
        ("api/bad.py", "import httpx\n", "may not import httpx"),
        ("cli/bad.py", "from rebac.client import _sync\n", "private module of rebac.client"),
    ],
)
def test_checker_catches_violations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, importer: str, source: str, expected: str
) -> None:
    (fake_tree(tmp_path, monkeypatch) / importer).write_text(source)
    assert any(expected in problem for problem in violations())


@pytest.mark.parametrize(
    ("where", "source", "allowed"),
    [
        ("store/_common.py", "from rebac.store.postgres import models\n", False),
        ("store/base.py", "from rebac.store.memory import MemoryTupleStore\n", False),
        ("store/memory/bad.py", "from rebac.store.postgres.models import metadata\n", False),
        ("store/postgres/bad.py", "from rebac.store.memory import MemoryTupleStore\n", False),
        ("store/postgres/bad.py", "from rebac.store.postgres import models, _sql\n", True),
        ("store/postgres/bad.py", "from rebac.store import _common\n", True),
        ("store/factory.py", "from rebac.store.postgres.models import metadata\n", True),
        ("api/app.py", "from rebac.store.factory import open_store\n", True),
        ("client/ok.py", "import httpx\nimport msgspec\nfrom rebac.refs import ObjectRef\n", True),
        ("client/ok.py", "from rebac.client import _sync\nfrom rebac import __version__\n", True),
        ("cli/ok.py", "from rebac.client import Client\n", True),
    ],
)
def test_checker_keeps_the_engines_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, source: str, allowed: bool
) -> None:
    (fake_tree(tmp_path, monkeypatch) / where).write_text(source)
    assert (violations() == []) is allowed


def test_size_rule_catches_a_long_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "rebac"
    fake.mkdir()
    (fake / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert oversized() == [f"rebac/long.py: {MAX_MODULE_LINES + 1} lines"]
