"""Imports point down the layers only (DESIGN.md §1, STYLE.md (b)).

errors ← refs/limits ← config ← schema ← store.base/store.revision ← engine ← services ← api ← cli

The concrete store engines are leaves: only the store package itself, ``api/app.py``, the CLI,
migrations and tests may import them. Third-party layers are fenced the same way.
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
    ("rebac.services", 6),
    ("rebac.api", 7),
    ("rebac.cli", 8),
]
STORE_CONTRACT = {"rebac.store", "rebac.store.base", "rebac.store.revision"}
LEAF_IMPORTERS = ("rebac.store.", "rebac.api.app", "rebac.cli.")
THIRD_PARTY_FENCES: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("rebac.store.",),
    "psycopg": ("rebac.store.",),
    "psycopg_pool": ("rebac.store.",),
    "alembic": ("rebac.store.",),
    "pgserver": ("rebac.store.",),
    "litestar": ("rebac.api.", "rebac.cli."),
    "msgspec": ("rebac.api.", "rebac.cli."),
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
    return problems


def test_imports_point_down_the_layers() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from rebac.api import app\n", "imports upward"),
        ("import sqlalchemy\n", "may not import sqlalchemy"),
        ("from rebac.store import memory\n", "imports the store engine"),
    ],
)
def test_checker_catches_violations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    fake_root = tmp_path
    pkg = fake_root / "rebac" / "engine"
    pkg.mkdir(parents=True)
    for folder in (fake_root / "rebac", pkg, fake_root / "rebac" / "api", fake_root / "rebac" / "store"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    (fake_root / "rebac" / "api" / "app.py").write_text("")
    (fake_root / "rebac" / "store" / "memory.py").write_text("")
    (pkg / "bad.py").write_text(source)
    monkeypatch.setitem(globals(), "ROOT", fake_root)
    monkeypatch.setitem(globals(), "PACKAGE", fake_root / "rebac")
    assert any(expected in problem for problem in violations())
