"""Print the shape of rebac's import graph: modules and lines per layer, and imports between layers.

Usage::

    .venv/bin/python scripts/layers.py [--root CHECKOUT]

``--root`` reads another checkout (an older commit in a ``git worktree``, say) with today's layer
table, so two versions can be compared. Layers are the top-level packages and modules of
``rebac/`` (``rebac.store``, ``rebac.engine``, ...); an edge ``a -> b: n`` counts the import
statements in layer ``a`` of modules in layer ``b``, and how many of them are in a composition
root (``rebac.api.app``, ``rebac.cli._runtime``). An edge to a higher layer is marked ``UP``.
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from pathlib import Path

LEVELS = {
    "rebac.errors": 0,
    "rebac.refs": 1,
    "rebac.limits": 1,
    "rebac.opaque": 1,
    "rebac": 1,
    "rebac.config": 2,
    "rebac.schema": 3,
    "rebac.store": 4,
    "rebac.engine": 5,
    "rebac.services": 6,
    "rebac.api": 7,
    "rebac.console": 7,  # the web console: beside the API (mounted by its composition root)
    "rebac.client": 7,  # the SDK: beside the server stack, below the CLI; it imports level 0-1 only
    "rebac.integrations": 7,  # enforcement points on the SDK (MCP middleware, guards, retrieval)
    "rebac.gateway": 7,  # the MCP gateway, on the integrations
    "rebac.cli": 8,
}
"""The layer of each top-level name (the table of ``tests/unit/test_layering.py``)."""
COMPOSITION_ROOTS = frozenset({"rebac.api.app", "rebac.cli._runtime"})


def _module(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def _imports(root: Path, path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(root, path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.append(".".join([*base, node.module] if node.module else base))
            else:
                found.append(node.module or "")
    return [name for name in found if name == "rebac" or name.startswith("rebac.")]


def main() -> None:
    """Print modules per layer and the import edges between layers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    root: Path = args.root.resolve()
    modules: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    from_roots: Counter[tuple[str, str]] = Counter()
    for path in sorted((root / "rebac").rglob("*.py")):
        module = _module(root, path)
        layer = _layer(module)
        modules[layer] += 1
        lines[layer] += len(path.read_text(encoding="utf-8").splitlines())
        for imported in _imports(root, path):
            target = _layer(imported)
            if target != layer:
                edges[layer, target] += 1
                from_roots[layer, target] += module in COMPOSITION_ROOTS
    order = sorted(modules, key=lambda name: (LEVELS.get(name, 99), name))
    print(f"{'layer':<16} {'modules':>7} {'lines':>7}")
    for layer in order:
        print(f"{layer:<16} {modules[layer]:>7} {lines[layer]:>7}")
    print(f"\n{'imports between layers':<34} {'count':>5} {'in roots':>8}")
    up = 0
    for (source, target), count in sorted(
        edges.items(), key=lambda item: (-LEVELS.get(item[0][0], 99), -LEVELS.get(item[0][1], 99), item[0])
    ):
        upward = LEVELS.get(target, 99) > LEVELS.get(source, 99)
        up += upward
        mark = "  UP" if upward else ""
        print(f"{source + ' -> ' + target:<34} {count:>5} {from_roots[source, target]:>8}{mark}")
    print(f"\n{len(edges)} layer-to-layer edges, {sum(edges.values())} imports, {up} pointing up")


if __name__ == "__main__":
    main()
