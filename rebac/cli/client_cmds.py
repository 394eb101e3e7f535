"""Permission commands against a server: ``check``, ``expand``, ``lookup``, ``watch``.

They talk through :class:`rebac.client.Client` (``--endpoint``/``--key``/``--context``, see
:mod:`rebac.cli._server`). Objects and subjects use the one text syntax (``document:1``,
``team:eng#member``). ``rebac check`` exits 0 when allowed, 1 when denied, 2 when conditional and
3 on any error (a usage error is click's 2).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import click

from rebac.cli._output import echo_json, echo_ndjson
from rebac.cli._server import CheckError, Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.client import CheckResult, Consistency, ExpandTree

__all__ = ["CHECK_EXIT", "check_cmd", "expand_cmd", "lookup_group", "watch_cmd"]

CHECK_EXIT: Final = {"allowed": 0, "denied": 1, "conditional": 2, "error": 3}
"""``rebac check``'s exit status per answer."""

_VERDICT: Final = {
    "PERMISSIONSHIP_HAS_PERMISSION": "allowed",
    "PERMISSIONSHIP_NO_PERMISSION": "denied",
    "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "conditional",
}

caveat_context_option: Final = click.option(
    "--caveat-context", "caveat_context", help='Caveat context as a JSON object, e.g. \'{"day": "mon"}\'.'
)
token_option: Final = click.option("--token", help="Answer at least as fresh as this consistency token.")
full_option: Final = click.option("--fully-consistent", is_flag=True, help="Read the newest data.")


def parse_caveat_context(text: str | None) -> dict[str, Any] | None:
    """The ``--caveat-context`` JSON object (a usage error when it is not one)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON ({exc.msg})", param_hint="--caveat-context") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--caveat-context")
    return value


def consistency(token: str | None, *, full: bool = False) -> Consistency | None:
    """The read's consistency: ``--token``, ``--fully-consistent``, else the server's default."""
    from rebac.client import Consistency  # noqa: PLC0415 - the SDK is imported when a command runs

    if token and full:
        raise click.UsageError("--token and --fully-consistent are exclusive")
    if token:
        return Consistency.at_least_as_fresh(token)
    return Consistency.fully_consistent() if full else None


def verdict(result: CheckResult) -> str:
    """``allowed``, ``denied`` or ``conditional``."""
    return _VERDICT.get(str(result.permissionship), "error")


def _print_check(result: CheckResult, *, explain: bool) -> None:
    answer = verdict(result)
    missing = f" (missing context: {', '.join(result.missing_context)})" if result.missing_context else ""
    click.echo(answer + missing)
    for hop in result.delegation:
        click.echo(f"  hop {hop.depth} {hop.subject}: {hop.reason}")
    if explain and result.trace:
        _print_trace(result.trace, 0)
    if result.decision_id:
        click.echo(f"decision {result.decision_id} at token {result.checked_at}", err=True)


def _print_trace(node: dict[str, Any], depth: int) -> None:
    res = node.get("resource", {})
    mark = {"PERMISSIONSHIP_HAS_PERMISSION": "✓", "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "?"}.get(
        node.get("result", ""), "✗"
    )
    where = f"{res.get('objectType')}:{res.get('objectId')}#{node.get('permission')}"
    click.echo(f"{'  ' * depth}{mark} {where}")
    for child in node.get("subProblems", {}).get("traces", []):
        _print_trace(child, depth + 1)


@click.command("check")
@click.argument("resource")
@click.argument("permission")
@click.argument("subject")
@caveat_context_option
@click.option("--via", "via", multiple=True, help="A principal the subject acts for here (repeatable).")
@token_option
@full_option
@click.option("--explain", is_flag=True, help="Show the path that decided (withTracing).")
@json_option
@server_options
def check_cmd(
    resource: str,
    permission: str,
    subject: str,
    *,
    caveat_context: str | None,
    via: tuple[str, ...],
    token: str | None,
    fully_consistent: bool,
    explain: bool,
    as_json: bool,
    server: Server,
) -> None:
    """Check whether SUBJECT has PERMISSION on RESOURCE (e.g. document:1 view user:tom).

    Exits 0 when allowed, 1 when denied, 2 when conditional (context is missing), 3 on an error.
    """
    ctx = parse_caveat_context(caveat_context)
    read = consistency(token, full=fully_consistent)
    try:
        with server.client() as client:
            result = client.check(
                resource,
                permission,
                subject,
                context=ctx,
                via=list(via) or None,
                consistency=read,
                with_tracing=explain,
            )
    except Exception as exc:  # fail closed: any error is exit 3, never a traceback
        raise CheckError(str(exc) or type(exc).__name__) from exc
    if as_json:
        echo_json(result)
    else:
        _print_check(result, explain=explain)
    raise click.exceptions.Exit(CHECK_EXIT[verdict(result)])


def _print_tree(node: ExpandTree, depth: int) -> None:
    head = f"{'  ' * depth}{node.resource}#{node.relation}"
    if node.operation is not None:
        click.echo(f"{head} [{node.operation}]")
        for child in node.children:
            _print_tree(child, depth + 1)
        return
    subjects = ", ".join(str(s) for s in node.subjects)
    click.echo(f"{head}: {subjects or '(none)'}")


@click.command("expand")
@click.argument("resource")
@click.argument("permission")
@token_option
@full_option
@json_option
@server_options
def expand_cmd(
    resource: str,
    permission: str,
    *,
    token: str | None,
    fully_consistent: bool,
    as_json: bool,
    server: Server,
) -> None:
    """Print the userset tree of RESOURCE#PERMISSION."""
    read = consistency(token, full=fully_consistent)
    with server.client() as client:
        result = client.expand(resource, permission, consistency=read)
    if as_json:
        echo_json(result)
    else:
        _print_tree(result.tree, 0)


@click.group("lookup")
def lookup_group() -> None:
    """Look up resources a subject can reach, or subjects that can reach a resource."""


@lookup_group.command("resources")
@click.argument("resource_type")
@click.argument("permission")
@click.argument("subject")
@caveat_context_option
@token_option
@full_option
@json_option
@server_options
def lookup_resources_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    resource_type: str,
    permission: str,
    subject: str,
    caveat_context: str | None,
    token: str | None,
    fully_consistent: bool,
    as_json: bool,
    server: Server,
) -> None:
    """Every RESOURCE_TYPE object on which SUBJECT has PERMISSION (all pages; JSON: one per line)."""
    ctx = parse_caveat_context(caveat_context)
    read = consistency(token, full=fully_consistent)
    with server.client() as client:
        for item in client.lookup_resources(
            resource_type, permission, subject, context=ctx, consistency=read
        ):
            if as_json:
                echo_ndjson(item)
                continue
            suffix = " (conditional)" if "CONDITIONAL" in str(item.permissionship) else ""
            click.echo(f"{item.resource}{suffix}")


@lookup_group.command("subjects")
@click.argument("resource")
@click.argument("permission")
@click.argument("subject_type")
@click.option("--subject-relation", default=None, help="Subject relation (e.g. member for team#member).")
@caveat_context_option
@token_option
@full_option
@json_option
@server_options
def lookup_subjects_cmd(  # noqa: PLR0917 - one argument per option, as click passes them
    resource: str,
    permission: str,
    subject_type: str,
    subject_relation: str | None,
    caveat_context: str | None,
    token: str | None,
    fully_consistent: bool,
    as_json: bool,
    server: Server,
) -> None:
    """Every SUBJECT_TYPE subject with PERMISSION on RESOURCE (all pages; JSON: one per line)."""
    ctx = parse_caveat_context(caveat_context)
    read = consistency(token, full=fully_consistent)
    with server.client() as client:
        found = client.lookup_subjects(
            resource,
            permission,
            subject_type,
            subject_relation=subject_relation,
            context=ctx,
            consistency=read,
        )
        for item in found:
            if as_json:
                echo_ndjson(item)
                continue
            suffix = " (conditional)" if "CONDITIONAL" in str(item.permissionship) else ""
            if item.excluded:
                suffix += f" (except {', '.join(str(s) for s in item.excluded)})"
            click.echo(f"{item.subject}{suffix}")


@click.command("watch")
@click.option("--since", help="Start after this token (default: from now).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Stop after this many seconds.")
@click.option("--type", "types", multiple=True, help="Only these resource types (repeatable).")
@json_option
@server_options
def watch_cmd(
    *, since: str | None, timeout: float, types: tuple[str, ...], as_json: bool, server: Server
) -> None:
    """Print relationship changes as they commit, until --timeout (JSON: one event per line)."""
    last = None
    with (
        server.client() as client,
        client.watch(since, object_types=types, timeout_seconds=timeout) as events,
    ):
        for event in events:
            last = event.changes_through
            if as_json:
                echo_ndjson(event)
                continue
            for update in event.updates:
                op = str(update.operation).removeprefix("OPERATION_").lower()
                click.echo(f"{op:<6}  {update.relationship}")
    if last and not as_json:
        click.echo(f"through token: {last}", err=True)
