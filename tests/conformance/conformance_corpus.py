# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The SpiceDB testconfigs corpus, shared by the conformance tests."""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "spicedb" / "testconfigs"


def corpus_dir() -> Path:
    """``REBAC_CONFORMANCE_DIR`` or the shared corpus next to the repository."""
    return Path(os.environ.get("REBAC_CONFORMANCE_DIR", str(_DEFAULT)))


def corpus_files() -> list[Path]:
    """Every ``*.yaml`` file of the corpus (``self.yaml.skip`` is skipped, as upstream)."""
    return sorted(corpus_dir().glob("*.yaml"))
