"""Admin commands working directly on the configured store: ``rebac blast-radius``.

Like ``rebac validate --store postgres``, these open the store from the environment
(``REBAC_DATABASE_URL``, else the embedded server) and evaluate in process against the store's
current schema (through :class:`rebac.services.reach.Reach`); no server is needed.
"""

from __future__ import annotations

from typing import Final

import click

from rebac.cli._runtime import load_settings, with_services
from rebac.errors import RebacError
from rebac.refs import parse_object, parse_subject
from rebac.services.blast_radius import BlastRadius, ReachEntry, WhoCanReach, to_graphml, to_json
from rebac.services.core import Services
from rebac.services.reach import MAX_BUDGET
from rebac.services.types import Consistency, ConsistencyMode, Permissionship

__all__ = ["blast_radius_cmd"]

_SHORT: Final = {
    Permissionship.HAS_PERMISSION: "yes",
    Permissionship.CONDITIONAL: "conditional",
    Permissionship.NO_PERMISSION: "no",
}


def _entry_line(entry: ReachEntry, *, reverse: bool) -> str:
    who = str(entry.subject) if reverse else str(entry.resource)
    text = f"  {who}  raw={_SHORT[entry.raw]}"
    if entry.effective is not None:
        text += f" effective={_SHORT[entry.effective]}"
    if entry.capped:
        text += " (capped by delegation)"
    if entry.missing:
        text += f" (missing context: {', '.join(sorted(entry.missing))})"
    return text


def render_text(result: BlastRadius | WhoCanReach) -> str:
    """A readable report: per resource type and permission, each entry with its path."""
    reverse = isinstance(result, WhoCanReach)
    if isinstance(result, WhoCanReach):
        lines = [f"who can reach {result.resource} (revision {result.revision})"]
    else:
        lines = [f"blast radius of {result.subject} (revision {result.revision})"]
        if result.delegated and not result.raw_only:
            lines.append("effective reach is capped by the subject's principals (acts_for)")
    for group in result.groups:
        lines.append(
            f"{group.resource_type}#{group.permission}: {group.raw_count} raw, "
            f"{group.effective_count} effective"
        )
        for entry in group.entries:
            lines.append(_entry_line(entry, reverse=reverse))
            lines.extend(f"      {step}" for step in entry.path)
    total = sum(len(group.entries) for group in result.groups)
    lines.append(f"{total} entries, {result.nodes_visited} graph nodes, budget {result.budget}")
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)


def _split_reverse(text: str) -> tuple[str, str | None]:
    resource, _, permission = text.partition("#")
    return resource, permission or None


@click.command("blast-radius")
@click.argument("subject", required=False)
@click.option("--reverse", "reverse", metavar="RESOURCE[#PERM]", help="Who can reach this resource instead.")
@click.option(
    "--resource-type", "resource_types", multiple=True, help="Only this resource type (repeatable)."
)
@click.option(
    "--permission", "permissions", multiple=True, help="Only this permission or relation (repeatable)."
)
@click.option("--raw-only", is_flag=True, help="Skip the effective (delegation-capped) reach.")
@click.option("--budget", type=click.IntRange(min=1), default=MAX_BUDGET, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "graphml"]), default="text", show_default=True
)
def blast_radius_cmd(
    *,
    subject: str | None,
    reverse: str | None,
    resource_types: tuple[str, ...],
    permissions: tuple[str, ...],
    raw_only: bool,
    budget: int,
    fmt: str,
) -> None:
    """Everything SUBJECT can reach, raw and effective, with a path each.

    With --reverse RESOURCE[#PERM]: who (humans and agents) can reach that resource instead.
    Work and output are bounded by --budget; a truncated answer says "truncated at N".
    """
    if (subject is None) == (reverse is None):
        raise click.UsageError("give exactly one of SUBJECT or --reverse RESOURCE[#PERM]")
    settings = load_settings()
    full = Consistency(ConsistencyMode.FULLY_CONSISTENT)
    try:
        if reverse is not None:
            resource_text, permission = _split_reverse(reverse)
            resource = parse_object(resource_text)
            if len(permissions) > 1:
                raise click.UsageError("--reverse takes at most one permission")
            permission = permission or (permissions[0] if permissions else None)
        else:
            target = parse_subject(subject or "")
    except RebacError as exc:
        raise click.BadParameter(str(exc)) from None

    async def action(services: Services) -> BlastRadius | WhoCanReach:
        current = await services.engines.current()
        revision = await services.checks.revision(current, full)
        if reverse is not None:
            return await services.reach.who_can_reach(
                current, resource, permission, revision=revision, budget=budget, raw_only=raw_only
            )
        return await services.reach.blast_radius(
            current,
            target,
            revision=revision,
            budget=budget,
            resource_types=resource_types or None,
            permissions=permissions or None,
            raw_only=raw_only,
        )

    result = with_services(settings, action)
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "graphml":
        click.echo(to_graphml(result))
    else:
        click.echo(render_text(result))
    if result.message:
        click.echo(result.message, err=True)
