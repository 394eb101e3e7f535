"""Store commands: ``migrate``, ``import``, ``export``, ``gc``.

Import reads NDJSON (``{"relationship": "<text>"}``) or plain text lines (see
:mod:`rebac.services.interchange`); it is atomic, so a bad line (reported with its number) or a duplicate
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

from rebac.cli._runtime import load_settings, migrate_database, with_services
from rebac.errors import SchemaError
from rebac.refs import Relationship
from rebac.services.conformance import conforming
from rebac.services.core import Services
from rebac.services.interchange import encode_line, parse_numbered_lines
from rebac.services.relationships import ImportTarget
from rebac.services.types import ANY_RELATION, Consistency, ConsistencyMode, RelationshipFilter

__all__ = ["export_cmd", "gc_cmd", "import_cmd", "migrate_cmd"]

_PROGRESS_EVERY = 100_000


@click.command("migrate")
def migrate_cmd() -> None:
    """Migrate the database to the newest schema (the embedded one when REBAC_DATABASE_URL is unset)."""
    migrate_database(load_settings())
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


async def _import_target(services: Services) -> ImportTarget:
    """The current schema version (``0``: none) and its compiled form, for checking an import."""
    try:
        return await services.relationships.import_target()
    except SchemaError as exc:  # fail closed: nothing can be checked against it
        raise click.ClickException(
            "the current schema does not compile, so the import cannot be checked against it: "
            f"{exc.message}; write a schema first"
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

    async def action(services: Services) -> tuple[int, int, str]:
        target = await _import_target(services)
        if target.schema is None:
            click.echo(
                "note: no schema is stored, so the relationships are not checked "
                "(the first schema write checks every stored relationship)",
                err=True,
            )
        relationships = conforming(parse_numbered_lines(file), target.schema, source)
        result = await services.relationships.bulk_import(
            _with_progress(relationships, err), schema_version=target.version
        )
        return result.loaded, result.revision.value, result.token

    loaded, revision, token = with_services(settings, action)
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

    async def action(services: Services) -> int:
        _, found = await services.relationships.export(
            flt, consistency=Consistency(ConsistencyMode.FULLY_CONSISTENT)
        )
        count = 0
        async for rel in found:
            out.write(encode_line(rel) + "\n")
            count += 1
            if count % _PROGRESS_EVERY == 0:
                sys.stderr.write(f"\rexported {count:,} relationships")
                sys.stderr.flush()
        out.flush()
        if count >= _PROGRESS_EVERY:
            sys.stderr.write("\n")
        return count

    count = with_services(settings, action)
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

    async def action(services: Services) -> int:
        removed = await services.relationships.gc(older_than_seconds=window)
        await services.decisions.prune()
        return removed

    removed = with_services(settings, action)
    click.echo(f"removed {removed} relationship versions")
