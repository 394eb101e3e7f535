"""Run a parsed validation file against a fresh store: load, validate, assert, compare.

Shared by ``rebac validate``, the API and the conformance tests. A file passes when its schema
compiles, every relationship conforms to it, every assertion holds and every expected-relations
entry matches what the engine derives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rebac.config import EngineSettings
from rebac.engine import Engine, Permissionship
from rebac.errors import Diagnostic, RebacError, SchemaError, ValidationFileError
from rebac.limits import MAX_UPDATES_PER_WRITE
from rebac.schema import compile_schema
from rebac.schema.conformity import nonconformity
from rebac.schema.ir import Schema
from rebac.services.engines import build_engine
from rebac.services.validation.files import Assertion, ValidationFile, load_validation_file
from rebac.services.validation.membership import expected_mismatches
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
    TupleReader,
    TupleWriter,
)

__all__ = [
    "EXPECTED",
    "Failure",
    "FileReport",
    "LoadedFile",
    "ReadWriteStore",
    "load_into",
    "run_assertions",
    "run_file",
    "validate_path",
]

EXPECTED = {
    "assertTrue": Permissionship.HAS_PERMISSION,
    "assertCaveated": Permissionship.CONDITIONAL,
    "assertFalse": Permissionship.NO_PERMISSION,
}
_NAMES = {
    Permissionship.HAS_PERMISSION: "true",
    Permissionship.CONDITIONAL: "caveated",
    Permissionship.NO_PERMISSION: "false",
}


class ReadWriteStore(TupleReader, TupleWriter, Protocol):
    """What the runner needs from a store."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed item, positioned in its file."""

    source: str
    line: int
    message: str

    def render(self) -> str:
        """``file:line: message``."""
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(slots=True)
class FileReport:
    """The outcome for one file."""

    source: str
    failures: list[Failure] = field(default_factory=list)
    assertions: int = 0

    @property
    def passed(self) -> bool:
        """True when nothing failed."""
        return not self.failures


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A validation file whose schema compiled and whose relationships are in the store."""

    file: ValidationFile
    schema: Schema


async def load_into(vf: ValidationFile, store: ReadWriteStore, report: FileReport) -> LoadedFile | None:
    """Compile the schema, validate the relationships and write them; failures go to ``report``."""
    try:
        schema = compile_schema(vf.schema_text, vf.schema_source)
    except SchemaError as exc:
        for diagnostic in exc.diagnostics or [Diagnostic(exc.message, vf.schema_source, 0, 0)]:
            report.failures.append(
                Failure(
                    vf.schema_source,
                    diagnostic.line,
                    f"schema does not compile: {diagnostic.message} (column {diagnostic.column})",
                )
            )
        return None
    seen: dict[tuple[str, ...], int] = {}
    updates: list[RelationshipUpdate] = []
    for item in vf.relationships:
        rel = item.relationship
        problem = nonconformity(schema, rel)
        if problem is None and rel.key() in seen:
            problem = f"repeated relationship (first on line {seen[rel.key()]})"
        if problem is not None:
            report.failures.append(Failure(vf.source, item.line, f"invalid relationship {rel}: {problem}"))
            continue
        seen[rel.key()] = item.line
        updates.append(RelationshipUpdate(Operation.TOUCH, rel))
    if report.failures:
        return None
    for start in range(0, len(updates), MAX_UPDATES_PER_WRITE):
        await store.write(updates[start : start + MAX_UPDATES_PER_WRITE])
    return LoadedFile(vf, schema)


def _describe(assertion: Assertion) -> str:
    return f"{assertion.kind} {assertion.text!r}"


async def run_assertions(engine: Engine, assertions: Sequence[Assertion], source: str) -> list[Failure]:
    """Evaluate every assertion at a fully consistent revision."""
    revision = await engine.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
    failures: list[Failure] = []
    for assertion in assertions:
        expected = EXPECTED[assertion.kind]
        try:
            result = await engine.check(
                assertion.resource,
                assertion.permission,
                assertion.subject,
                revision=revision,
                context=assertion.context,
            )
        except RebacError as exc:
            failures.append(Failure(source, assertion.line, f"{_describe(assertion)} failed: {exc}"))
            continue
        if result.permissionship is not expected:
            detail = f"got {_NAMES[result.permissionship]}"
            if result.missing:
                detail += f" (missing caveat context: {', '.join(sorted(result.missing))})"
            failures.append(
                Failure(source, assertion.line, f"{_describe(assertion)} does not hold: {detail}")
            )
    return failures


async def run_file(
    vf: ValidationFile,
    store: ReadWriteStore,
    *,
    settings: EngineSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FileReport:
    """Load ``vf`` into the (fresh, empty) ``store`` and run everything in it.

    The engine caches checks when ``settings`` enable it (the default settings do).
    """
    report = FileReport(vf.source)
    loaded = await load_into(vf, store, report)
    if loaded is None:
        return report
    engine = build_engine(store, loaded.schema, settings=settings or EngineSettings(), clock=clock)
    report.assertions = len(vf.assertions)
    report.failures.extend(await run_assertions(engine, vf.assertions, vf.source))
    for expected in vf.expected:
        try:
            problems = await expected_mismatches(engine, expected)
        except RebacError as exc:
            problems = [f"cannot evaluate: {exc}"]
        report.failures.extend(
            Failure(vf.source, expected.line, f"{expected.resource}#{expected.permission}: {p}")
            for p in problems
        )
    return report


async def validate_path(
    path: Path, store: ReadWriteStore, *, settings: EngineSettings, clear_after: bool = False
) -> FileReport:
    """Load and run the validation file at ``path`` in the empty ``store``.

    A file that cannot be read or parsed is a failed report, positioned in the file. With
    ``clear_after`` the relationships the file wrote are deleted afterwards, so a shared store is
    empty again for the next file.
    """
    try:
        vf = load_validation_file(path)
    except ValidationFileError as exc:
        report = FileReport(str(path))
        prefix = f"{exc.source}:{exc.line}:{exc.column}: "
        report.failures.append(Failure(exc.source, exc.line, exc.message.removeprefix(prefix)))
        return report
    try:
        return await run_file(vf, store, settings=settings)
    finally:
        if clear_after:
            for type_name in sorted({item.relationship.resource.type for item in vf.relationships}):
                await store.delete_matching(RelationshipFilter(resource_type=type_name))
