"""``rebac identities`` and ``rebac review``: the non-human identity inventory and its reviews.

Like ``rebac blast-radius``, these open the configured store (``REBAC_DATABASE_URL``, else the
embedded server) and work in process against its current schema; no server is needed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from rebac.cli._runtime import load_settings, with_services
from rebac.errors import RebacError
from rebac.refs import parse_subject
from rebac.services.core import Services
from rebac.services.identities import (
    DEFAULT_BLAST_BUDGET,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Identity,
    InventoryPage,
)
from rebac.services.types import Review

__all__ = ["identities_cmd", "review_cmd"]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _review_json(review: Review) -> dict[str, Any]:
    return {
        "reviewId": review.review_id,
        "subject": str(review.subject),
        "reviewer": review.reviewer,
        "revision": review.revision.value,
        "reviewedAt": review.reviewed_at.isoformat(),
        "note": review.note,
        "fingerprint": review.fingerprint,
        "grants": list(review.grants),
    }


def identity_json(identity: Identity) -> dict[str, Any]:
    """The JSON object of one identity (the same member names as ``GET /v1/identities``)."""
    blast = identity.blast
    state = identity.review
    return {
        "subject": str(identity.subject),
        "delegates": identity.delegates,
        "chain": [str(s) for s in identity.chain],
        "owners": [str(s) for s in identity.owners],
        "principals": [{"identity": str(a), "principal": str(p)} for a, p in identity.principals],
        "chainError": identity.chain_error,
        "createdRevision": None if identity.created_revision is None else identity.created_revision.value,
        "createdAt": _time(identity.created_at),
        "grantCount": len(identity.grants),
        "grantsTruncated": identity.grants_truncated,
        "grantsExpireFirst": _time(identity.expires_first),
        "grantsExpireLast": _time(identity.expires_last),
        "lastDecisionAt": _time(identity.last_decision_at),
        "decisionsKnown": identity.decisions_known,
        "blastRadius": None
        if blast is None
        else {
            "raw": blast.raw,
            "effective": blast.effective,
            "truncated": blast.truncated,
            "message": blast.message,
            "error": blast.error,
        },
        "review": {
            "fingerprint": state.fingerprint,
            "lastReview": None if state.last is None else _review_json(state.last),
            "addedSince": [
                {"relationship": str(v.relationship), "createdRevision": v.created.value}
                for v in state.added_since
            ],
            "removedSince": list(state.removed_since),
        },
        "flags": sorted(flag.value for flag in identity.flags),
    }


def render_text(page: InventoryPage) -> str:
    """A readable inventory page: one block per identity."""
    lines = [f"non-human identities of {', '.join(page.types) or 'no type'} (revision {page.revision})"]
    for identity in page.identities:
        flags = ", ".join(sorted(flag.value for flag in identity.flags)) or "ok"
        lines.append(f"{identity.subject}  [{flags}]")
        lines.append(f"  chain: {' -> '.join(str(s) for s in identity.chain)}")
        lines.append(f"  owners: {', '.join(str(s) for s in identity.owners) or '-'}")
        created = "-" if identity.created_revision is None else str(identity.created_revision)
        lines.append(f"  created: revision {created} at {_time(identity.created_at) or '-'}")
        expiry = f"{_time(identity.expires_first) or '-'} .. {_time(identity.expires_last) or '-'}"
        lines.append(f"  grants: {len(identity.grants)} (expiring {expiry})")
        seen = _time(identity.last_decision_at) or ("never" if identity.decisions_known else "unknown")
        lines.append(f"  last decision: {seen}")
        if identity.blast is not None:
            blast = identity.blast
            size = f"{blast.raw} raw, {blast.effective} effective"
            lines.append(f"  blast radius: {size}{' (' + blast.message + ')' if blast.message else ''}")
        last = identity.review.last
        reviewed = "never" if last is None else f"by {last.reviewer} at revision {last.revision}"
        lines.append(f"  reviewed: {reviewed}")
        lines.extend(f"    added since: {v.relationship}" for v in identity.review.added_since)
    if page.cursor:
        lines.append(f"more: --cursor {page.cursor}")
    return "\n".join(lines)


@click.command("identities")
@click.option("--type", "identity_type", help="Only identities of this type.")
@click.option(
    "--flagged", is_flag=True, help="Only identities with a flag (never reviewed, changed, unused ...)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE_SIZE), default=DEFAULT_PAGE_SIZE, show_default=True)
@click.option("--cursor", help="Continue after a previous page.")
@click.option(
    "--blast-budget",
    type=click.IntRange(min=0),
    default=DEFAULT_BLAST_BUDGET,
    show_default=True,
    help="Blast-radius budget per identity; 0 skips it.",
)
def identities_cmd(
    *,
    identity_type: str | None,
    flagged: bool,
    as_json: bool,
    limit: int,
    cursor: str | None,
    blast_budget: int,
) -> None:
    """The non-human identity inventory: chains, owners, grants, usage, reach and review state."""
    settings = load_settings()

    async def action(services: Services) -> InventoryPage:
        return await services.inventory.identities(
            await services.engines.current(),
            identity_type=identity_type,
            flagged_only=flagged,
            limit=limit,
            cursor=cursor,
            blast_budget=blast_budget or None,
        )

    page = with_services(settings, action)
    if as_json:
        body = {
            "revision": page.revision.value,
            "types": list(page.types),
            "identities": [identity_json(i) for i in page.identities],
            "nextCursor": page.cursor,
        }
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(render_text(page))


@click.command("review")
@click.argument("subject")
@click.option("--reviewer", required=True, help="Who approves.")
@click.option("--note", default="", help="Free text kept with the review.")
def review_cmd(*, subject: str, reviewer: str, note: str) -> None:
    """Approve SUBJECT's current grants (and delegation edges) at the head revision."""
    settings = load_settings()
    try:
        target = parse_subject(subject)
    except RebacError as exc:
        raise click.BadParameter(str(exc)) from None

    async def action(services: Services) -> Review:
        current = await services.engines.current()
        return await services.inventory.review(current, target, reviewer=reviewer, note=note)

    review = with_services(settings, action)
    click.echo(
        f"reviewed {review.subject} at revision {review.revision} by {review.reviewer}: "
        f"{len(review.grants)} relationships, fingerprint {review.fingerprint[:16]}"
    )
