"""Where the schema tests find their data: golden files, reference schemas, SpiceDB conformance."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = (REPO_ROOT / ".." / "shared").resolve()
SPICEDB = SHARED / "conformance" / "spicedb"
TESTCONFIGS = SPICEDB / "testconfigs"
PARSER_CORPUS = SPICEDB / "schemadsl-parser"
GOLDEN = HERE / "golden"
REFERENCE_SCHEMAS = REPO_ROOT / "schema"


def config_files() -> list[Path]:
    """Every SpiceDB consistency test config (``*.yaml`` and ``*.yaml.skip``)."""
    return sorted([*TESTCONFIGS.glob("*.yaml"), *TESTCONFIGS.glob("*.yaml.skip")])


def config_schema(path: Path) -> str:
    """The ``schema:`` text of a SpiceDB test config."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(data["schema"])


def parser_corpus() -> list[Path]:
    """Every ``*.zed`` input of SpiceDB's parser golden tests."""
    return sorted(PARSER_CORPUS.glob("*.zed"))


def corpus_expects_error(path: Path) -> bool:
    """Whether SpiceDB's expected parse tree for ``path`` contains an error node."""
    expected = path.with_name(path.name + ".expected").read_text(encoding="utf-8")
    return "NodeTypeError" in expected
