"""``rebac identities``, ``rebac review`` and ``rebac reviews``: a server's identity inventory.

They talk to the server (``GET /v1/identities``, ``POST /v1/reviews``, ``GET /v1/reviews``)
through :class:`rebac.client.Client`. A review is recorded by the API key's subject (``rebac keys
create --subject user:alice ...``); an owner reviewing her own agent is refused unless the schema
allows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from rebac.cli._output import echo_json, table, when
from rebac.cli._server import Server, json_option, server_options

if TYPE_CHECKING:
    from rebac.client import Identity, Review

__all__ = ["identities_cmd", "identity_rows", "review_cmd", "reviews_cmd"]

_HEADERS: Final = ["identity", "flags", "owners", "grants", "grants expire", "last decision", "reviewed"]


def _expiry(identity: Identity) -> str:
    first, last = identity.grants_expire_first, identity.grants_expire_last
    if first is None:
        return "never"
    if last is None or last == first:
        return when(first)
    return f"{when(first)} to {when(last)}"


def _grants(identity: Identity) -> str:
    return f"{identity.grant_count}{'+' if identity.grants_truncated else ''}"


def identity_rows(identities: list[Identity]) -> list[list[str]]:
    """One table row per identity (see ``rebac identities``)."""
    rows = []
    for identity in identities:
        if identity.last_decision_at is not None:
            seen = when(identity.last_decision_at)
        else:
            seen = "never" if identity.decisions_known else "unknown"
        last = identity.review.last_review
        reviewed = "never" if last is None else f"{when(last.reviewed_at)} by {last.reviewer}"
        rows.append(
            [
                identity.subject,
                ", ".join(identity.flags) or "ok",
                ", ".join(identity.owners) or "-",
                _grants(identity),
                _expiry(identity),
                seen,
                reviewed,
            ]
        )
    return rows


@click.command("identities")
@click.option("--type", "identity_type", help="Only identities of this type.")
@click.option(
    "--flagged", is_flag=True, help="Only identities with a flag (never reviewed, changed, unused ...)."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many."
)
@click.option(
    "--blast-budget",
    type=click.IntRange(min=0),
    default=None,
    help="Blast-radius budget per identity (the server's default when not given); 0 skips it.",
)
@json_option
@server_options
def identities_cmd(
    *,
    identity_type: str | None,
    flagged: bool,
    limit: int,
    blast_budget: int | None,
    as_json: bool,
    server: Server,
) -> None:
    """The non-human identities: chains, owners, grants and their expiry, usage, review state."""
    found: list[Identity] = []
    with server.client() as client:
        pages = client.identities(
            identity_type=identity_type, flagged=flagged, page_size=min(limit, 500), blast_budget=blast_budget
        )
        for identity in pages:
            found.append(identity)
            if len(found) >= limit:
                break
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no identities match", err=True)
        return
    click.echo(table(_HEADERS, identity_rows(found)))
    for identity in found:
        for grant in identity.review.added_since:
            click.echo(f"{identity.subject}: added since its last review: {grant.relationship}")


@click.command("review")
@click.argument("subject")
@click.option("--note", default="", help="Free text kept with the review.")
@json_option
@server_options
def review_cmd(*, subject: str, note: str, as_json: bool, server: Server) -> None:
    """Approve SUBJECT's current grants; the reviewer is the API key's subject."""
    with server.client() as client:
        review = client.record_review(subject, note=note)
    if as_json:
        echo_json(review)
        return
    click.echo(
        f"reviewed {review.subject} at revision {review.revision} by {review.reviewer}: "
        f"{len(review.grants)} relationships, fingerprint {review.fingerprint[:16]}"
    )


def _review_rows(reviews: list[Review]) -> list[list[object]]:
    return [
        [r.review_id, r.subject, r.reviewer, when(r.reviewed_at), r.revision, len(r.grants), r.note or "-"]
        for r in reviews
    ]


@click.command("reviews")
@click.option("--subject", help="Only the reviews of this identity.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@json_option
@server_options
def reviews_cmd(*, subject: str | None, limit: int, as_json: bool, server: Server) -> None:
    """Stored reviews, newest first."""
    found: list[Review] = []
    with server.client() as client:
        for review in client.reviews(subject=subject, page_size=min(limit, 500)):
            found.append(review)
            if len(found) >= limit:
                break
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no reviews", err=True)
        return
    headers = ["id", "identity", "reviewer", "reviewed", "revision", "grants", "note"]
    click.echo(table(headers, _review_rows(found)))
