"""What one decision records: the fields of its :class:`~rebac.store.base.DecisionRecord`.

:func:`build_record` makes the record of a decision; the recorder's request path hands the same
parts to :func:`record_fields` positionally (see :func:`rebac.services.decisions.check_and_record`),
which gives the record's fields in order: the writer thread builds a record of them, the spooling
recorder formats them as its spool line. This is on the path of every decision, so the common
case (no delegation chain, no context, ids with no escape) is kept cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rebac.engine.results import CheckResult, Hop, Permissionship
from rebac.errors import RebacError
from rebac.refs import ESCAPE, ObjectRef, SubjectRef, external, shown
from rebac.services.recorder import RecordFields
from rebac.store.base import DecisionRecord, DecisionResult
from rebac.store.revision import Revision

__all__ = ["DecisionScope", "build_record", "cap_context", "record_fields", "result_of"]


@dataclass(frozen=True, slots=True)
class DecisionScope:
    """What all decisions of one request share."""

    source: str
    caller: str | None
    revision: Revision | None = None
    schema_version: int | None = None
    schema_hash: str | None = None


def result_of(outcome: CheckResult | BaseException) -> DecisionResult:
    """The recorded result of an engine answer (or of the error it raised)."""
    if isinstance(outcome, BaseException):
        return DecisionResult.ERROR
    if outcome.permissionship is Permissionship.HAS_PERMISSION:
        return DecisionResult.ALLOWED
    if outcome.permissionship is Permissionship.CONDITIONAL:
        return DecisionResult.CONDITIONAL
    return DecisionResult.DENIED


def _hop(hop: Hop) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subject": str(external(hop.subject)),
        "depth": hop.depth,
        "permissionship": hop.permissionship.value,
        "reason": hop.reason.value,
    }
    if hop.missing:
        out["missing"] = sorted(hop.missing)
    return out


def _reason(outcome: CheckResult | BaseException) -> str:
    if isinstance(outcome, RebacError):
        return f"error: {type(outcome).__name__}: {outcome.message}"
    if isinstance(outcome, BaseException):
        return f"error: {type(outcome).__name__}"  # foreign messages may quote internals
    failed = outcome.failed_hop
    if failed is not None:
        return f"hop {failed.depth} {failed.subject}: {failed.reason.value}"
    if outcome.permissionship is Permissionship.CONDITIONAL:
        return "conditional: missing " + ", ".join(sorted(outcome.missing))
    if outcome.permissionship is Permissionship.HAS_PERMISSION:
        return f"granted through {len(outcome.delegation)} hops" if outcome.delegation else "granted"
    return "no path grants the permission"


def _shown(ref: ObjectRef | SubjectRef) -> str:
    """:func:`~rebac.refs.shown` of ``ref``; an id with no escape (almost every id) is its own."""
    if not ref.id.startswith(ESCAPE):
        return str(ref)
    if isinstance(ref, ObjectRef):
        return shown(ref)
    return shown(ref)


def cap_context(context: Mapping[str, Any] | None, max_bytes: int) -> dict[str, Any] | None:
    """``context`` as recorded: itself, or ``{"truncated": true, "bytes": N}`` when too large."""
    if not context:
        return None
    text = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    size = len(text.encode())
    if size > max_bytes:
        return {"truncated": True, "bytes": size}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def build_record(decision_id: str, **parts: Any) -> DecisionRecord:
    """The record of one decision: :func:`record_fields`'s other parameters, by keyword.

    ``decision_point`` (the instance that made it) may be left out.
    """
    parts.setdefault("decision_point", None)
    return DecisionRecord(*record_fields(decision_id, **parts))


def record_fields(  # noqa: PLR0917 - the positional tuple the request path hands the recorder
    decision_id: str,
    decided_at: datetime,
    scope: DecisionScope,
    resource: ObjectRef,
    permission: str,
    subject: SubjectRef,
    outcome: CheckResult | BaseException,
    context: Mapping[str, Any] | None,
    latency_ms: float,
    max_context_bytes: int,
    decision_point: str | None,
) -> RecordFields:
    """The fields of the record of one decision, in order (run by the recorder, off the request)."""
    if isinstance(outcome, BaseException):
        chain: tuple[dict[str, Any], ...] = ()
    else:
        chain = tuple(_hop(h) for h in outcome.delegation) if outcome.delegation else ()
    revision = scope.revision
    return (
        decision_id,
        decided_at,
        scope.source,
        scope.caller,
        _shown(subject),
        permission,
        _shown(resource),
        result_of(outcome),
        _reason(outcome),
        chain,
        None if revision is None else revision.value,
        scope.schema_version,
        scope.schema_hash,
        cap_context(context, max_context_bytes),
        latency_ms,
        decision_point,
    )
