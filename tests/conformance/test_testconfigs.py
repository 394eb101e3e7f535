# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Every SpiceDB testconfigs file through the validation runner, on every store, cache on and off."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance_corpus import corpus_files
from corpus_counts import ASSERTIONS

from rebac.config import EngineSettings
from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import run_file

pytestmark = pytest.mark.conformance

FILES = corpus_files()


def test_the_corpus_is_present():
    assert len(FILES) == 73


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "nocache"])
@pytest.mark.parametrize("kind", ["memory", "postgres", "indexed"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_testconfig(path: Path, kind: str, cached: bool, store_factory):
    vf = load_validation_file(path)
    settings = EngineSettings(cache_enabled=cached)
    async with store_factory(kind, quantization_seconds=0) as store:
        report = await run_file(vf, store, settings=settings)
    assert report.passed, "\n".join(f.render() for f in report.failures)
    assert report.assertions == ASSERTIONS[path.stem]  # pinned, counted apart from the parser
