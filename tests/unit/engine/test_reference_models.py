"""Every reference model in schema/ passes its own validation file (the policies-as-code tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import run_file
from rebac.store.memory import MemoryTupleStore

ROOT = Path(__file__).resolve().parents[3]
VALIDATION_FILES = sorted((ROOT / "schema").rglob("*.yaml"))


def test_every_reference_model_has_a_validation_file() -> None:
    models = sorted((ROOT / "schema").rglob("*.zed"))
    assert len(models) >= 3
    assert {m.with_suffix(".yaml") for m in models} <= set(VALIDATION_FILES)


@pytest.mark.parametrize("path", VALIDATION_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
async def test_reference_validation_file_passes(path: Path) -> None:
    vf = load_validation_file(path)
    assert vf.assertions, "a validation file without assertions proves nothing"
    report = await run_file(vf, MemoryTupleStore(quantization_seconds=0))
    assert report.passed, [failure.render() for failure in report.failures]
