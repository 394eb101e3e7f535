"""Store commands: ``migrate``, ``import``, ``export``, ``gc``.

Import reads NDJSON (``{"relationship": "<text>"}``) or plain text lines (see
:mod:`rebac.store.ndjson`); it is atomic, so a bad line (reported with its number) or a duplicate
writes nothing. When a schema is stored, every relationship must conform to the current version
(:func:`rebac.schema.conformity.nonconformity`, caveat context types included); the first one that
does not is reported as ``FILE:LINE: reason`` and nothing is written. The check streams with the
load, inside the import's transaction, and the import is refused if the schema changes before it
commits. With no schema stored, relationships are imported unchecked (a note says so on stderr):
the first schema write then checks every stored relationship and refuses a schema that would
orphan any. Export streams NDJSON to stdout at one consistent revision.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

import click

from rebac.cli._runtime import cli_errors, load_settings, with_store
from rebac.engine.decisions import DecisionRecorder
from rebac.errors import InvalidInputError, SchemaError
from rebac.refs import Relationship
from rebac.schema import compile_schema, ir
from rebac.schema.conformity import nonconformity
from rebac.store.base import (
    ANY_RELATION,
    Consistency,
    ConsistencyMode,
    DecisionLog,
    RelationshipFilter,
    TupleStore,
)
from rebac.store.factory import database_url
from rebac.store.ndjson import encode_line, parse_numbered_lines
from rebac.store.postgres.migrate import upgrade_to_head

__all__ = ["NonconformingImportError", "conforming", "export_cmd", "gc_cmd", "import_cmd", "migrate_cmd"]

_PROGRESS_EVERY = 100_000


@click.command("migrate")
def migrate_cmd() -> None:
    """Migrate the database to the newest schema (the embedded one when REBAC_DATABASE_URL is unset)."""
    settings = load_settings()
    with cli_errors(), database_url(settings) as url:
        upgrade_to_head(url)
    click.echo("database is at the newest migration")


def _with_progress(relationships: Iterable[Relationship], err: TextIO) -> Iterator[Relationship]:
    count = 0
    for rel in relationships:
        count += 1
        if count % _PROGRESS_EVERY == 0:
            err.write(f"\rread {count:,} relationships")
            err.flush()
        yield rel
    if count >= _PROGRESS_EVERY:
        err.write(f"\rread {count:,} relationships, committing\n")


class NonconformingImportError(InvalidInputError):
    """An imported relationship does not conform to the current schema (``FILE:LINE: reason``)."""

    def __init__(self, source: str, line: int, rel: Relationship, reason: str) -> None:
        super().__init__(
            f"{source}:{line}: {reason}",
            details={"file": source, "line": line, "relationship": str(rel), "reason": reason},
        )
        self.line = line


def conforming(
    numbered: Iterable[tuple[int, Relationship]], schema: ir.Schema | None, source: str
) -> Iterator[Relationship]:
    """The relationships of ``numbered``, each checked against ``schema`` (unchecked when ``None``).

    Raises:
        NonconformingImportError: at the first relationship ``schema`` does not allow.
    """
    for line, rel in numbered:
        if schema is not None:
            reason = nonconformity(schema, rel)
            if reason is not None:
                raise NonconformingImportError(source, line, rel, reason)
        yield rel


async def _current_schema(store: TupleStore) -> tuple[int, ir.Schema | None]:
    """The current schema version (``0``: none) and its compiled form, for checking an import."""
    current = await store.current_schema()
    if current is None:
        return 0, None
    try:
        return current.version, compile_schema(current.text, f"schema version {current.version}")
    except SchemaError as exc:  # fail closed: nothing can be checked against it
        raise click.ClickException(
            f"the current schema (version {current.version}) does not compile, so the import cannot "
            f"be checked against it: {exc.message}; write a schema first"
        ) from exc


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_cmd(file: TextIO) -> None:
    """Import relationships from FILE (or - for stdin): NDJSON or one relationship per line.

    The import is atomic: on any bad line, duplicate, or relationship the current schema does not
    allow (reported as FILE:LINE: reason), nothing is written. With no schema stored yet the
    relationships are not checked; the first `rebac schema write` checks them all.
    """
    settings = load_settings()
    err = sys.stderr
    source = str(getattr(file, "name", "-"))

    async def action(store: TupleStore) -> tuple[int, int, str]:
        version, schema = await _current_schema(store)
        if schema is None:
            click.echo(
                "note: no schema is stored, so the relationships are not checked "
                "(the first schema write checks every stored relationship)",
                err=True,
            )
        relationships = conforming(parse_numbered_lines(file), schema, source)
        result = await store.bulk_import(_with_progress(relationships, err), schema_version=version)
        return result.loaded, result.revision.value, result.token

    loaded, revision, token = with_store(settings, action)
    click.echo(f"loaded {loaded} relationships at revision {revision}")
    click.echo(f"token: {token}")


@click.command("export")
@click.option("--resource-type", help="Only relationships of this resource type.")
@click.option("--resource-id", "resource_ids", multiple=True, help="Only these resource ids (repeatable).")
@click.option("--relation", help="Only this relation.")
@click.option("--subject-type", help="Only subjects of this type.")
@click.option("--subject-id", "subject_ids", multiple=True, help="Only these subject ids (repeatable).")
@click.option("--subject-relation", help="Only this subject relation ('' for plain subjects).")
def export_cmd(
    *,
    resource_type: str | None,
    resource_ids: tuple[str, ...],
    relation: str | None,
    subject_type: str | None,
    subject_ids: tuple[str, ...],
    subject_relation: str | None,
) -> None:
    """Stream relationships as NDJSON to stdout, at one fully consistent revision."""
    settings = load_settings()
    flt = RelationshipFilter(
        resource_type=resource_type,
        resource_ids=resource_ids,
        relation=relation,
        subject_type=subject_type,
        subject_ids=subject_ids,
        subject_relation=ANY_RELATION if subject_relation is None else (subject_relation or None),
    )
    out = sys.stdout

    async def action(store: TupleStore) -> int:
        revision = await store.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
        count = 0
        async for rel in store.query(flt, revision=revision):
            out.write(encode_line(rel) + "\n")
            count += 1
            if count % _PROGRESS_EVERY == 0:
                sys.stderr.write(f"\rexported {count:,} relationships")
                sys.stderr.flush()
        out.flush()
        if count >= _PROGRESS_EVERY:
            sys.stderr.write("\n")
        return count

    count = with_store(settings, action)
    click.echo(f"exported {count} relationships", err=True)


@click.command("gc")
@click.option(
    "--older-than",
    type=float,
    default=None,
    help="Retention window in seconds (default: REBAC_GC_WINDOW_SECONDS, 24 h).",
)
def gc_cmd(older_than: float | None) -> None:
    """Garbage-collect relationships deleted or expired before the retention window.

    Also drops the decision log's days older than ``REBAC_DECISION_RETENTION_DAYS``.
    """
    settings = load_settings()
    window = settings.database.gc_window_seconds if older_than is None else older_than
    if window < 0:
        raise click.BadParameter("must be >= 0", param_hint="--older-than")

    async def action(store: TupleStore) -> int:
        removed = await store.gc(older_than_seconds=window)
        if isinstance(store, DecisionLog):
            await DecisionRecorder(store, settings.decisions).prune()
        return removed

    removed = with_store(settings, action)
    click.echo(f"removed {removed} relationship versions")
