"""Validated engine requests: refs + revision + depth budget + deadline + caveat context + schema.

Requests are built by the facade (:mod:`rebac.engine`) from already-parsed refs; the engine never
sees raw strings. Every sub-problem is a new request with one less unit of depth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rebac.engine.cycles import CheckMemo, Path, Scope
from rebac.engine.model import SchemaModel
from rebac.errors import DeadlineExceededError, InvalidInputError, MaxDepthExceededError
from rebac.refs import ObjectRef, SubjectRef
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine.trace import TraceNode

__all__ = [
    "CheckRequest",
    "EvalContext",
    "ExpandRequest",
    "LookupResourcesRequest",
    "LookupSubjectsRequest",
    "canonical_context",
]


_EMPTY_PATH: Path = MappingProxyType({})


def canonical_context(context: Mapping[str, Any]) -> str:
    """Canonical JSON of a caveat context (sorted keys at every level, no spaces).

    Raises:
        InvalidInputError: if the context is not JSON-serialisable.
    """
    if not context:
        return "{}"
    try:
        return json.dumps(context, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"caveat context is not JSON: {exc}") from None


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What every sub-problem of one top-level request shares.

    Attributes:
        revision: The store revision every read uses.
        model: The schema (with its hash and compiled caveats).
        context: The request's caveat context (read-only).
        context_key: Canonical JSON of ``context`` (part of every cache key).
        deadline: ``time.monotonic()`` instant after which evaluation fails.
        now: Wall-clock instant used to decide expiration.
        memo: Decided check results of this request (per subject and node); lives and dies with
            the request, unlike the cross-request cache.
    """

    revision: Revision
    model: SchemaModel
    context: Mapping[str, Any]
    context_key: str
    deadline: float
    now: datetime
    memo: CheckMemo = field(default_factory=CheckMemo, compare=False, hash=False, repr=False)

    def check_deadline(self) -> None:
        """Raise when the deadline has passed.

        Raises:
            DeadlineExceededError: past the deadline.
        """
        if time.monotonic() > self.deadline:
            raise DeadlineExceededError("the request deadline passed before a decision was reached")

    def key(self) -> tuple[int, str, str]:
        """The part of every cache key that comes from the shared context."""
        return (self.revision.value, self.model.hash, self.context_key)


def _spend(depth_remaining: int) -> int:
    if depth_remaining <= 0:
        raise MaxDepthExceededError(
            "the maximum recursion depth was exceeded",
            details={"reason": "max_depth_exceeded"},
        )
    return depth_remaining - 1


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """Does ``subject`` have ``relation`` on each of ``resource_type:resource_ids``?

    Attributes:
        resource_type: Type of every resource in the batch.
        resource_ids: Distinct resource ids (one store read serves them all).
        relation: Relation or permission.
        subject: The subject (``id == "*"`` only for internal wildcard probes).
        depth_remaining: Dispatch budget left; each hop spends one.
        ctx: Shared evaluation context.
        paths: Per resource id, the ``(type, id, relation)`` nodes already on its evaluation
            path, each with the level of the scope that entered it (used to cut cycles; not part
            of the cache key, since cycle-affected results are never cached).
        scope: The fixpoint scope the request belongs to (``None`` for a top-level request, which
            opens its own); see :mod:`rebac.engine.cycles`.
        trace: For a traced check, the trace node of each resource id (the evaluator records the
            sub-problems it dispatches for an id under it); ``None`` when not tracing. Not part of
            the cache key (traced checks bypass the cache); see :mod:`rebac.engine.trace`.
    """

    resource_type: str
    resource_ids: tuple[str, ...]
    relation: str
    subject: SubjectRef
    depth_remaining: int
    ctx: EvalContext = field(compare=False, hash=False)
    paths: Mapping[str, Path] = field(default_factory=dict, compare=False, hash=False)
    scope: Scope | None = field(default=None, compare=False, hash=False)
    trace: Mapping[str, TraceNode] | None = field(default=None, compare=False, hash=False)

    def key(self) -> tuple[object, ...]:
        """Cache key: every semantic input except the depth budget (served by depth rule)."""
        return (
            "check",
            *self.ctx.key(),
            self.resource_type,
            self.resource_ids,
            self.relation,
            self.subject.type,
            self.subject.id,
            self.subject.relation,
        )

    def path_of(self, resource_id: str) -> Path:
        """The evaluation path of ``resource_id`` (empty at the top)."""
        return self.paths.get(resource_id, _EMPTY_PATH)

    def sub(
        self,
        resource_type: str,
        resource_ids: tuple[str, ...],
        relation: str,
        paths: Mapping[str, Path],
    ) -> CheckRequest:
        """A sub-problem for the same subject with one less unit of depth.

        Raises:
            MaxDepthExceededError: when the budget is spent.
        """
        return replace(
            self,
            resource_type=resource_type,
            resource_ids=resource_ids,
            relation=relation,
            depth_remaining=_spend(self.depth_remaining),
            paths=paths,
        )


@dataclass(frozen=True, slots=True)
class ExpandRequest:
    """Expand ``resource#relation`` one level (usersets are not followed)."""

    resource: ObjectRef
    relation: str
    depth_remaining: int
    ctx: EvalContext = field(compare=False, hash=False)

    def sub(self, resource: ObjectRef, relation: str) -> ExpandRequest:
        """A sub-expansion with one less unit of depth."""
        return replace(
            self, resource=resource, relation=relation, depth_remaining=_spend(self.depth_remaining)
        )


@dataclass(frozen=True, slots=True)
class LookupResourcesRequest:
    """Which ``resource_type`` objects grant ``permission`` to ``subject``?"""

    resource_type: str
    permission: str
    subject: SubjectRef
    depth_remaining: int
    ctx: EvalContext = field(compare=False, hash=False)
    limit: int | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LookupSubjectsRequest:
    """Which subjects of ``subject_type`` (``#subject_relation``) have ``permission`` on ``resource``?"""

    resource: ObjectRef
    permission: str
    subject_type: str
    subject_relation: str | None
    depth_remaining: int
    ctx: EvalContext = field(compare=False, hash=False)
    limit: int | None = None
    cursor: str | None = None
