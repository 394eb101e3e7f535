"""SpiceDB's ``validationfile/`` loader corpus: what SpiceDB loads rebac loads, what it rejects rebac rejects.

The expectations are SpiceDB's own, from ``pkg/validationfile/loader_test.go``
(``TestPopulateFromFiles``) at the snapshot the corpus was copied from: the relationships each
loadable file populates, and for each rejected file the reason SpiceDB gives. rebac's messages
are its own, so a rejection is checked as "rejected, with a typed error or a positioned failure";
the one rejection SpiceDB positions (a schema file that does not parse) is checked at its line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conformance_corpus import corpus_dir

from rebac.errors import RebacError
from rebac.services.validation.files import load_validation_file
from rebac.services.validation.run import FileReport, load_into
from rebac.store.base import RelationshipFilter

pytestmark = pytest.mark.conformance

LOADER_DIR = corpus_dir().parent / "validationfile"

_PROJECT = [
    "example/project:pied_piper#owner@example/user:milburga",
    "example/project:pied_piper#reader@example/user:tarben",
    "example/project:pied_piper#writer@example/user:freyja",
]
_CAVEATED = [
    'resource:first#reader@user:sarah[some_caveat:{"somecondition":42}]',
    "resource:first#reader@user:tom[some_caveat]",
]

LOADS: dict[str, list[str] | None] = {
    "loader_no_comment.yaml": _PROJECT,
    "loader_using_schemafile.yaml": _PROJECT,
    "loader_with_comment.yaml": _PROJECT,
    "initial_schema_and_rels.yaml": _PROJECT,
    "basic_caveats.yaml": _CAVEATED,
    "caveat_order.yaml": _CAVEATED,
    "requires_chunking.yaml": None,  # SpiceDB checks it loads (in 3 transactions); any content
}
"""Files SpiceDB loads, with the relationships it populates (sorted)."""

REJECTS: dict[str, tuple[str, str]] = {
    "just_rels.yaml": ("object definition `example/project` not found", "has no schema"),
    "schema_and_schemafile.yaml": ("only one of schema or schemaFile can be specified", "not both"),
    "loader_using_invalid_schemafile.yaml": ("error when parsing schema (line 6, column 18)", "expected ':'"),
    "loader_using_non-local_schemafile.yaml": ("schema file is not local", "outside the validation file"),
    "loader_using_missing_schemafile.yaml": ("error when opening schema file", "cannot read"),
    "legacy.yaml": ("relationships must be specified in `relationships`", "validation_tuples"),
    "invalid_caveat.yaml": ("caveat `some_caveat` not found", "unknown caveat `some_caveat`"),
    "invalid_caveated_rel.yaml": (
        "`user with some_caveat` are not allowed",
        "with caveat 'some_caveat' is not allowed",
    ),
    "invalid_caveated_rel_syntax.yaml": ("error parsing relationship", "invalid caveat name"),
    # SpiceDB names the repetition first; rebac the (equally present) missing caveat first.
    "repeated_relationship.yaml": ("found repeated relationship", "is not allowed on resource#reader"),
}
"""Files SpiceDB rejects: SpiceDB's reason, and a fragment of rebac's (the same fault)."""


def test_every_loader_file_has_an_expectation() -> None:
    yaml_files = {p.name for p in LOADER_DIR.glob("*.yaml")}
    assert yaml_files == set(LOADS) | set(REJECTS)
    assert len(yaml_files) == 17  # and the two .zed files they reference


async def load(
    name: str, store_factory: Callable[..., Any]
) -> tuple[FileReport | None, list[str], Exception | None]:
    """Load one file into a fresh memory store: (report, relationships stored, parse error)."""
    try:
        vf = load_validation_file(LOADER_DIR / name)
    except RebacError as exc:
        return None, [], exc
    async with store_factory("memory") as store:
        report = FileReport(vf.source)
        loaded = await load_into(vf, store, report)
        stored: list[str] = []
        if loaded is not None:
            revision = await store.head_revision()
            for type_name in loaded.schema.definitions:
                flt = RelationshipFilter(resource_type=type_name)
                stored.extend([str(rel) async for rel in store.query(flt, revision=revision)])
    return report, sorted(stored), None


@pytest.mark.parametrize("name", sorted(LOADS))
async def test_spicedb_loads_it_so_rebac_loads_it(name: str, store_factory: Any) -> None:
    report, stored, error = await load(name, store_factory)
    assert error is None, error
    assert report is not None
    assert report.passed, "\n".join(f.render() for f in report.failures)
    want = LOADS[name]
    if want is None:
        assert stored
    else:
        assert stored == sorted(want)


@pytest.mark.parametrize("name", sorted(REJECTS))
async def test_spicedb_rejects_it_so_rebac_rejects_it(name: str, store_factory: Any) -> None:
    spicedb_says, rebac_says = REJECTS[name]
    report, stored, error = await load(name, store_factory)
    assert stored == []
    if error is not None:
        assert rebac_says in str(error)
        return
    assert report is not None
    assert not report.passed, f"rebac loaded a file SpiceDB rejects ({spicedb_says})"
    assert all(f.line > 0 for f in report.failures), [f.render() for f in report.failures]
    assert any(rebac_says in f.message for f in report.failures), [f.render() for f in report.failures]


async def test_an_unparsable_schema_file_is_rejected_at_spicedbs_position(store_factory: Any) -> None:
    report, _, error = await load("loader_using_invalid_schemafile.yaml", store_factory)
    assert error is None
    assert report is not None
    failures = [f for f in report.failures if f.source.endswith("invalid_schemafile.zed")]
    assert failures, [f.render() for f in report.failures]
    assert failures[0].line == 6
    assert "(column 18)" in failures[0].message
