"""``import`` and ``export`` over the API; ``migrate``, ``gc`` and ``import --direct`` locally.

``import`` streams the file to ``POST /v1/relationships/importbulk`` and ``export`` streams
``POST /v1/relationships/exportbulk``, both through :class:`rebac.client.Client`, with a progress
bar on a terminal (total, rate, ETA; ``--quiet`` turns it off). The server checks an import as
``--direct`` does below and reports the first bad line by its number in the file.

``import --direct`` reads NDJSON (``{"relationship": "<text>"}``) or plain text lines (see
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

import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

import click

from rebac.cli._output import Progress, echo_json, progress
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.refs import Relationship
    from rebac.services.core import Services
    from rebac.services.relationships import ImportTarget

__all__ = ["export_cmd", "gc_cmd", "import_cmd", "migrate_cmd"]

quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


@click.command("migrate")
@json_option
def migrate_cmd(*, as_json: bool) -> None:
    """Migrate the database to the newest schema (the embedded one when REBAC_DATABASE_URL is unset)."""
    from rebac.cli._runtime import load_settings, migrate_database  # noqa: PLC0415 - the store, when run

    migrate_database(load_settings())
    if as_json:
        echo_json({"migrated": True})
        return
    click.echo("database is at the newest migration")


def _file_size(file: TextIO) -> int | None:
    try:
        size = os.fstat(file.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        return None
    return size or None


def _counted_lines(file: TextIO, bar: Progress) -> Iterator[str]:
    """The file's lines, advancing the bar by their bytes; a blank line is sent as ``//``.

    The server numbers the lines it receives, so every line of the file is sent (a blank one as a
    comment) and its line numbers are the file's.
    """
    for line in file:
        bar.advance(len(line.encode()))
        yield line if line.strip() else "//"
    bar.describe("committing")


def _with_progress(relationships: Iterable[Relationship], bar: Progress) -> Iterator[Relationship]:
    for rel in relationships:
        bar.advance()
        yield rel
    bar.describe("committing")


async def _import_target(services: Services) -> ImportTarget:
    """The current schema version (``0``: none) and its compiled form, for checking an import."""
    from rebac.errors import SchemaError  # noqa: PLC0415

    try:
        return await services.relationships.import_target()
    except SchemaError as exc:  # fail closed: nothing can be checked against it
        raise click.ClickException(
            "the current schema does not compile, so the import cannot be checked against it: "
            f"{exc.message}; write a schema first"
        ) from exc


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--direct", is_flag=True, help="Load into the configured database with COPY (no server).")
@quiet_option
@json_option
@server_options
def import_cmd(file: TextIO, *, direct: bool, quiet: bool, as_json: bool, server: Server) -> None:
    """Import relationships from FILE (or - for stdin): NDJSON or one relationship per line.

    The import is atomic: on any bad line, duplicate, or relationship the current schema does not
    allow (reported with its line number), nothing is written. Over the API by default; --direct
    loads the configured database with COPY. With no schema stored yet the relationships are not
    checked; the first `rebac schema write` checks them all.
    """
    if direct:
        loaded, token = _import_direct(file, quiet=quiet)
    else:
        with (
            progress("importing", _file_size(file), unit="bytes", quiet=quiet) as bar,
            server.client() as client,
        ):
            result = client.import_relationships(_counted_lines(file, bar))
        loaded, token = result.loaded, result.written_at
    if as_json:
        echo_json({"loaded": loaded, "writtenAt": token})
        return
    click.echo(f"loaded {loaded} relationships; token: {token}")


def _import_direct(file: TextIO, *, quiet: bool) -> tuple[int, str]:
    from rebac.cli._runtime import load_settings, with_services  # noqa: PLC0415 - the store, when run
    from rebac.services.conformance import conforming  # noqa: PLC0415
    from rebac.services.interchange import parse_numbered_lines  # noqa: PLC0415

    source = str(getattr(file, "name", "-"))

    async def action(services: Services) -> tuple[int, str]:
        target = await _import_target(services)
        if target.schema is None:
            click.echo(
                "note: no schema is stored, so the relationships are not checked "
                "(the first schema write checks every stored relationship)",
                err=True,
            )
        relationships = conforming(parse_numbered_lines(file), target.schema, source)
        with progress("importing", None, unit="relationships", quiet=quiet) as bar:
            result = await services.relationships.bulk_import(
                _with_progress(relationships, bar), schema_version=target.version
            )
        return result.loaded, result.token

    return with_services(load_settings(), action)


@click.command("export")
@click.option("--resource-type", default="", help="Only relationships of this resource type.")
@click.option("--resource-id", default="", help="Only this resource id.")
@click.option("--relation", default="", help="Only this relation.")
@click.option("--subject-type", default="", help="Only subjects of this type.")
@click.option("--subject-id", default="", help="Only this subject id.")
@click.option("--subject-relation", default=None, help="Only this subject relation ('' for plain subjects).")
@quiet_option
@server_options
def export_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    resource_type: str,
    resource_id: str,
    relation: str,
    subject_type: str,
    subject_id: str,
    subject_relation: str | None,
    quiet: bool,
    server: Server,
) -> None:
    """Stream relationships as NDJSON to stdout, at one fully consistent snapshot."""
    from rebac.client import Consistency, RelationshipFilter  # noqa: PLC0415

    flt = RelationshipFilter(
        resource_type=resource_type,
        resource_id=resource_id,
        relation=relation,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_relation=subject_relation,
    )
    out = sys.stdout
    count = 0
    with (
        server.client() as client,
        client.export_relationships(flt, consistency=Consistency.fully_consistent()) as found,
        progress("exporting", None, unit="relationships", quiet=quiet) as bar,
    ):
        for rel in found:
            out.write(json.dumps({"relationship": str(rel)}, ensure_ascii=False) + "\n")
            count += 1
            bar.advance()
        token = found.token
    out.flush()
    click.echo(f"exported {count} relationships at token {token}", err=True)


@click.command("gc")
@click.option(
    "--older-than",
    type=float,
    default=None,
    help="Retention window in seconds (default: REBAC_GC_WINDOW_SECONDS, 24 h).",
)
@json_option
def gc_cmd(older_than: float | None, *, as_json: bool) -> None:
    """Garbage-collect relationships deleted or expired before the retention window.

    Also drops the decision log's days older than ``REBAC_DECISION_RETENTION_DAYS``.
    """
    from rebac.cli._runtime import load_settings, with_services  # noqa: PLC0415 - the store, when run

    settings = load_settings()
    window = settings.database.gc_window_seconds if older_than is None else older_than
    if window < 0:
        raise click.BadParameter("must be >= 0", param_hint="--older-than")

    async def action(services: Services) -> int:
        removed = await services.relationships.gc(older_than_seconds=window)
        await services.decisions.prune()
        return removed

    removed = with_services(settings, action)
    if as_json:
        echo_json({"removedVersions": removed, "olderThanSeconds": window})
        return
    click.echo(f"removed {removed} relationship versions")
