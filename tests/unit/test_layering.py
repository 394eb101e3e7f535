"""Imports point down the layers only (DESIGN.md §1, STYLE.md (b)).

errors ← refs/limits ← config ← schema ← store.base/store.revision ← engine ← api ← cli

Above the store, only the contract may be imported (``rebac.store``, ``rebac.store.base`` with
its value types in ``rebac.store.records``, and ``rebac.store.revision``). The concrete engines
(``rebac.store.postgres``, ``rebac.store.memory``), the opener (``rebac.store.factory``) and the
other store modules are leaves: only the store package itself, ``api/app.py`` and the CLI (the
composition roots), migrations and tests may import them. Inside the store, the engine-neutral
modules import no engine (only the factory does), and neither engine imports the other.
Third-party layers are fenced the same way: SQL lives in the Postgres engine only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rebac"

LAYERS: list[tuple[str, int]] = [
    ("rebac.errors", 0),
    ("rebac.refs", 1),
    ("rebac.limits", 1),
    ("rebac.config", 2),
    ("rebac.schema", 3),
    ("rebac.store", 4),
    ("rebac.engine", 5),
    ("rebac.api", 6),
    ("rebac.cli", 7),
]
STORE_CONTRACT = {"rebac.store", "rebac.store.base", "rebac.store.records", "rebac.store.revision"}
LEAF_IMPORTERS = ("rebac.store.", "rebac.api.app", "rebac.cli.")
STORE_ENGINES = ("rebac.store.postgres", "rebac.store.memory")
ENGINE_IMPORTERS = ("rebac.store.factory",)
"""Outside its own package, an engine is imported inside ``rebac.store`` by these modules only."""
THIRD_PARTY_FENCES: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("rebac.store.postgres.",),
    "psycopg": ("rebac.store.postgres.",),
    "psycopg_pool": ("rebac.store.postgres.",),
    "alembic": ("rebac.store.postgres.",),
    "pgserver": ("rebac.store.postgres.",),
    "litestar": ("rebac.api.", "rebac.cli."),
    "msgspec": ("rebac.api.", "rebac.cli."),
    "networkx": ("rebac.schema.typesystem", "rebac.engine.blast_radius"),
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
    return problems


def test_imports_point_down_the_layers() -> None:
    assert violations() == []


def fake_tree(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A minimal ``rebac`` tree under ``root`` that the checker walks instead of the real one."""
    store = root / "rebac" / "store"
    folders = (root / "rebac", root / "rebac" / "engine", root / "rebac" / "api", store)
    for folder in (*folders, store / "memory", store / "postgres"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    (root / "rebac" / "api" / "app.py").write_text("")
    (store / "postgres" / "models.py").write_text("")
    (store / "factory.py").write_text("")
    monkeypatch.setitem(globals(), "ROOT", root)
    monkeypatch.setitem(globals(), "PACKAGE", root / "rebac")
    return root / "rebac"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from rebac.api import app\n", "imports upward"),
        ("import sqlalchemy\n", "may not import sqlalchemy"),
        ("from rebac.store import memory\n", "imports the store engine"),
        ("from rebac.store.postgres import PostgresTupleStore\n", "imports the store engine"),
        ("from rebac.store.postgres.models import metadata\n", "imports the store engine"),
        ("from rebac.store.factory import open_store\n", "imports the store engine"),
    ],
)
def test_checker_catches_violations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    (fake_tree(tmp_path, monkeypatch) / "engine" / "bad.py").write_text(source)
    assert any(expected in problem for problem in violations())


@pytest.mark.parametrize(
    ("where", "source", "allowed"),
    [
        ("store/_common.py", "from rebac.store.postgres import models\n", False),
        ("store/base.py", "from rebac.store.memory import MemoryTupleStore\n", False),
        ("store/memory/bad.py", "from rebac.store.postgres.models import metadata\n", False),
        ("store/postgres/bad.py", "from rebac.store.memory import MemoryTupleStore\n", False),
        ("store/postgres/bad.py", "from rebac.store.postgres import models\n", True),
        ("store/factory.py", "from rebac.store.postgres.models import metadata\n", True),
    ],
)
def test_checker_keeps_the_engines_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, source: str, allowed: bool
) -> None:
    (fake_tree(tmp_path, monkeypatch) / where).write_text(source)
    assert (violations() == []) is allowed
