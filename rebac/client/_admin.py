"""Request builders of AuthZEN 1.0 and the admin endpoints.

The admin endpoints: the decision log, identities, reviews, blast radius and keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import quote

import msgspec

from rebac.client import _wire as w
from rebac.client._admin_models import (
    ApiKey,
    BlastRadius,
    CreatedKey,
    DecisionRecord,
    DecisionStats,
    Identity,
    Review,
    RevokedKey,
)
from rebac.client._call import Call, Page, Paged, StreamCall, decoder, json_decoder
from rebac.client._config import DEFAULT_BULK_TIMEOUT, Idempotency
from rebac.client._encode import (
    ObjectLike,
    SubjectLike,
    entity_json,
    object_json,
    object_ref,
    subject_json,
    subject_ref,
)
from rebac.client._errors import problem_of_body
from rebac.client._models import Consistency, Entity, Evaluation, EvaluationItem, Semantic
from rebac.client._tokens import Tokens
from rebac.client._wire_reach import WireBlastRadius, blast_radius_of

__all__ = [
    "blast_radius",
    "create_key",
    "decision",
    "decision_stats",
    "decisions",
    "evaluate",
    "evaluate_many",
    "export_decisions",
    "identities",
    "list_keys",
    "record_review",
    "reviews",
    "revoke_key",
    "search",
    "search_actions",
    "well_known",
]

GraphFormat = Literal["json-graph", "graphml"]


class _Evaluations(msgspec.Struct):
    evaluations: list[Evaluation]


class _PageInfo(msgspec.Struct):
    next_token: str = ""


class _Search(msgspec.Struct):
    page: _PageInfo
    results: list[dict[str, Any]]


class _Decisions(msgspec.Struct, rename="camel"):
    decisions: list[DecisionRecord]
    next_cursor: str | None = None


class _Identities(msgspec.Struct, rename="camel"):
    read_at: w.Token
    identities: list[Identity]
    next_cursor: str | None = None


class _Reviews(msgspec.Struct, rename="camel"):
    reviews: list[Review]
    next_cursor: str | None = None


class _Recorded(msgspec.Struct, rename="camel"):
    review: Review
    reviewed_at: w.Token


class _Keys(msgspec.Struct):
    keys: list[ApiKey]


_EVALUATION: Final = decoder(Evaluation)
_EVALUATIONS: Final = json_decoder(_Evaluations, lambda x: x.evaluations)
_SEARCH: Final = decoder(_Search)
_DECISION: Final = decoder(DecisionRecord)
_DECISIONS: Final = json_decoder(_Decisions, lambda x: (x.decisions, x.next_cursor))
_STATS: Final = decoder(DecisionStats)
_IDENTITIES: Final = decoder(_Identities)
_REVIEWS: Final = json_decoder(_Reviews, lambda x: (x.reviews, x.next_cursor))
_RECORDED: Final = decoder(_Recorded)
_BLAST: Final = json_decoder(WireBlastRadius, blast_radius_of)
_CONFIG: Final = decoder(dict[str, Any])
_CREATED: Final = decoder(CreatedKey)
_KEYS: Final = json_decoder(_Keys, lambda x: x.keys)
_REVOKED: Final = decoder(RevokedKey)


# --- AuthZEN -----------------------------------------------------------------------------------------


def evaluate(
    tokens: Tokens,
    subject: Entity | SubjectLike,
    action: str,
    resource: Entity | ObjectLike,
    *,
    context: dict[str, Any] | None = None,
    consistency: Consistency | None = None,
) -> Call[Evaluation]:
    """``POST /access/v1/evaluation``."""
    body: dict[str, Any] = {
        "subject": entity_json(subject),
        "action": {"name": action},
        "resource": entity_json(resource),
    }
    if context is not None:
        body["context"] = context
    headers, auto = tokens.header(consistency)
    return Call("POST", "/access/v1/evaluation", _EVALUATION, body, headers=headers, auto_token=auto)


def _item(item: EvaluationItem) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.subject is not None:
        out["subject"] = entity_json(item.subject)
    if item.action is not None:
        out["action"] = {"name": item.action}
    if item.resource is not None:
        out["resource"] = entity_json(item.resource)
    if item.context is not None:
        out["context"] = item.context
    return out


def evaluate_many(
    tokens: Tokens,
    evaluations: Iterable[EvaluationItem],
    *,
    subject: Entity | SubjectLike | None = None,
    action: str | None = None,
    resource: Entity | ObjectLike | None = None,
    context: dict[str, Any] | None = None,
    semantic: Semantic = "execute_all",
    consistency: Consistency | None = None,
) -> Call[list[Evaluation]]:
    """``POST /access/v1/evaluations`` (the top-level members are defaults for each item)."""
    items = [_item(i) for i in evaluations]
    if not items:
        raise ValueError("evaluate_many needs at least one evaluation (use evaluate for one decision)")
    body: dict[str, Any] = {"evaluations": items, "options": {"evaluations_semantic": semantic}}
    if subject is not None:
        body["subject"] = entity_json(subject)
    if action is not None:
        body["action"] = {"name": action}
    if resource is not None:
        body["resource"] = entity_json(resource)
    if context is not None:
        body["context"] = context
    headers, auto = tokens.header(consistency)
    return Call("POST", "/access/v1/evaluations", _EVALUATIONS, body, headers=headers, auto_token=auto)


def search(
    tokens: Tokens,
    kind: Literal["subject", "resource"],
    subject: dict[str, Any],
    action: str,
    resource: dict[str, Any],
    *,
    context: dict[str, Any] | None = None,
    page_size: int | None = None,
    consistency: Consistency | None = None,
    cursor: str | None = None,
) -> Paged[Entity]:
    """``POST /access/v1/search/{subject,resource}``, page by page (``next_token`` ``""`` ends it)."""
    headers, auto = tokens.header(consistency)
    base: dict[str, Any] = {"subject": subject, "action": {"name": action}, "resource": resource}
    if context is not None:
        base["context"] = context

    def decode(raw: bytes) -> Page[Entity]:
        found = _SEARCH(raw)
        items = [Entity(type=str(r["type"]), id=str(r["id"])) for r in found.results]
        return items, found.page.next_token or None

    def page(after: str | None) -> Call[Page[Entity]]:
        paging: dict[str, Any] = {}
        if page_size is not None:
            paging["limit"] = page_size
        if after is not None:
            paging["token"] = after
        body = {**base, "page": paging} if paging else base
        return Call("POST", f"/access/v1/search/{kind}", decode, body, headers=headers, auto_token=auto)

    return Paged(page, cursor)


class _Actions(msgspec.Struct):
    results: list[dict[str, Any]]


_ACTIONS: Final = json_decoder(_Actions, lambda x: [str(r["name"]) for r in x.results])


def search_actions(
    tokens: Tokens,
    subject: Entity | SubjectLike,
    resource: Entity | ObjectLike,
    *,
    context: dict[str, Any] | None = None,
    consistency: Consistency | None = None,
) -> Call[list[str]]:
    """``POST /access/v1/search/action``: the actions ``subject`` may take on ``resource``."""
    body: dict[str, Any] = {"subject": entity_json(subject), "resource": entity_json(resource)}
    if context is not None:
        body["context"] = context
    headers, auto = tokens.header(consistency)
    return Call("POST", "/access/v1/search/action", _ACTIONS, body, headers=headers, auto_token=auto)


def well_known() -> Call[dict[str, Any]]:
    """``GET /.well-known/authzen-configuration`` (public)."""
    return Call("GET", "/.well-known/authzen-configuration", _CONFIG)


# --- decisions ---------------------------------------------------------------------------------------


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def decision_filters(
    *,
    subject: SubjectLike | None = None,
    resource: ObjectLike | None = None,
    permission: str | None = None,
    result: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> dict[str, str]:
    """The query parameters of the decision-log filters (references in the one text syntax)."""
    params = {
        "subject": str(subject_ref(subject)) if subject is not None else None,
        "resource": str(object_ref(resource)) if resource is not None else None,
        "permission": permission,
        "result": result,
        "since": _when(since),
        "until": _when(until),
    }
    return {k: v for k, v in params.items() if v is not None}


def decisions(
    params: dict[str, str], *, page_size: int | None = None, cursor: str | None = None
) -> Paged[DecisionRecord]:
    """``GET /v1/decisions``, newest first, page by page."""

    def page(after: str | None) -> Call[Page[DecisionRecord]]:
        query = dict(params)
        if page_size is not None:
            query["limit"] = str(page_size)
        if after is not None:
            query["cursor"] = after
        return Call("GET", "/v1/decisions", _DECISIONS, params=query)

    return Paged(page, cursor)


def decision(decision_id: str) -> Call[DecisionRecord]:
    """``GET /v1/decisions/{decisionId}`` (404 when unknown)."""
    if not decision_id:
        raise ValueError("decision_id is empty")
    return Call("GET", f"/v1/decisions/{quote(decision_id, safe='')}", _DECISION)


def _decision_line(raw: str) -> DecisionRecord | None:
    data = msgspec.json.decode(raw)
    if isinstance(data, dict) and "error" in data:
        raise problem_of_body(data["error"], 500, "stream error").exception()
    return msgspec.convert(data, DecisionRecord)


def export_decisions(params: dict[str, str], *, limit: int | None = None) -> StreamCall[DecisionRecord]:
    """``GET /v1/decisions/export``: every matching decision, newest first, line by line."""
    query = dict(params)
    if limit is not None:
        query["limit"] = str(limit)
    return StreamCall(
        "GET", "/v1/decisions/export", _decision_line, params=query, timeout=DEFAULT_BULK_TIMEOUT
    )


def decision_stats() -> Call[DecisionStats]:
    """``GET /v1/decisions/stats``."""
    return Call("GET", "/v1/decisions/stats", _STATS)


# --- identities and reviews --------------------------------------------------------------------------


def identities(
    *,
    identity_type: str | None = None,
    flagged: bool = False,
    page_size: int | None = None,
    blast_budget: int | None = None,
    cursor: str | None = None,
) -> Paged[Identity]:
    """``GET /v1/identities``, page by page."""
    query: dict[str, str] = {}
    if identity_type is not None:
        query["type"] = identity_type
    if flagged:
        query["flagged"] = "true"
    if page_size is not None:
        query["limit"] = str(page_size)
    if blast_budget is not None:
        query["blastBudget"] = str(blast_budget)

    def decode(raw: bytes) -> Page[Identity]:
        found = _IDENTITIES(raw)
        return found.identities, found.next_cursor

    def page(after: str | None) -> Call[Page[Identity]]:
        params = query if after is None else {**query, "cursor": after}
        return Call("GET", "/v1/identities", decode, params=params)

    return Paged(page, cursor)


def record_review(subject: ObjectLike, *, note: str = "") -> Call[Review]:
    """``POST /v1/reviews``: approve the identity's current grants (the server names the reviewer)."""
    body: dict[str, Any] = {"subject": object_json(subject)}
    if note:
        body["note"] = note

    def decode(raw: bytes) -> Review:
        return _RECORDED(raw).review

    return Call("POST", "/v1/reviews", decode, body, idempotency=Idempotency.WRITE)


def reviews(
    *, subject: ObjectLike | None = None, page_size: int | None = None, cursor: str | None = None
) -> Paged[Review]:
    """``GET /v1/reviews``, newest first, page by page."""
    query: dict[str, str] = {}
    if subject is not None:
        query["subject"] = str(object_ref(subject))
    if page_size is not None:
        query["limit"] = str(page_size)

    def page(after: str | None) -> Call[Page[Review]]:
        params = query if after is None else {**query, "cursor": after}
        return Call("GET", "/v1/reviews", _REVIEWS, params=params)

    return Paged(page, cursor)


# --- blast radius ------------------------------------------------------------------------------------


def _blast_body(
    tokens: Tokens,
    subject: SubjectLike | None,
    *,
    resource: ObjectLike | None,
    reverse: bool,
    resource_type: str | None,
    permission: str | None,
    budget: int | None,
    raw_only: bool,
    consistency: Consistency | None,
    fmt: str,
) -> tuple[dict[str, Any], str | None]:
    body: dict[str, Any] = {"format": fmt}
    if subject is not None:
        body["subject"] = subject_json(subject)
    if resource is not None:
        body["resource"] = object_json(resource)
    if reverse:
        body["reverse"] = True
    named = {"resourceType": resource_type, "permission": permission, "budget": budget}
    body.update({key: value for key, value in named.items() if value is not None})
    if raw_only:
        body["rawOnly"] = True
    chosen, auto = tokens.consistency(consistency)
    if chosen is not None:
        body["consistency"] = chosen
    return body, auto


def blast_radius(tokens: Tokens, subject: SubjectLike | None, **options: Any) -> Call[BlastRadius]:
    """``POST /v1/blast-radius`` (JSON)."""
    body, auto = _blast_body(tokens, subject, fmt="json", **options)
    return Call("POST", "/v1/blast-radius", _BLAST, body, token=lambda r: r.read_at, auto_token=auto)


def blast_radius_graph(
    tokens: Tokens, subject: SubjectLike | None, fmt: GraphFormat, **options: Any
) -> Call[str]:
    """``POST /v1/blast-radius`` as a graph document: node-link JSON or GraphML, as text."""
    body, auto = _blast_body(tokens, subject, fmt=fmt, **options)
    return Call("POST", "/v1/blast-radius", lambda raw: raw.decode(), body, auto_token=auto)


# --- keys --------------------------------------------------------------------------------------------


def create_key(scopes: Iterable[str], name: str = "", subject: ObjectLike | None = None) -> Call[CreatedKey]:
    """``POST /v1/keys``: a new scoped key (its secret is in the answer only)."""
    body: dict[str, Any] = {"scopes": list(scopes), "name": name}
    if subject is not None:
        body["subject"] = object_json(subject)
    return Call("POST", "/v1/keys", _CREATED, body, idempotency=Idempotency.WRITE)


def list_keys() -> Call[list[ApiKey]]:
    """``GET /v1/keys``."""
    return Call("GET", "/v1/keys", _KEYS)


def revoke_key(key_id: str) -> Call[RevokedKey]:
    """``DELETE /v1/keys/{keyId}`` (404 when no active key has that id)."""
    if not key_id:
        raise ValueError("key_id is empty")
    return Call("DELETE", f"/v1/keys/{quote(key_id, safe='')}", _REVOKED, idempotency=Idempotency.WRITE)
