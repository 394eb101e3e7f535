"""The evaluation engine: check, bulk check, expand, lookups (the facade over the dispatcher chain).

Build one :class:`Engine` per (store, schema) in a composition root and pass it down::

    engine = Engine.build(store, schema, settings=EngineSettings(), cache=CheckCache())
    result = await engine.check(parse_object("doc:1"), "view", parse_subject("user:tom"))

Every method takes a :class:`~rebac.store.base.Consistency` (or an explicit revision) and fails
closed: any :class:`~rebac.errors.EvaluationError` means *deny*.

Delegation (``acts_for``, see :mod:`rebac.engine.delegation`) applies on every decision path:
a plain subject whose type declares ``acts_for`` is capped by its principals in ``check``,
``check_bulk`` and both lookups. ``delegation=False`` asks for the raw (uncapped) answer instead.

``check_traced`` answers like ``check`` and also returns the :class:`CheckTrace` the evaluator
recorded while deciding (see :mod:`rebac.engine.trace`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from rebac import limits
from rebac.config import EngineSettings
from rebac.engine.caching import CacheStats, CheckCache
from rebac.engine.delegated_lookup import (
    delegated_resources_digest,
    delegated_subjects_digest,
    lookup_resources_delegated,
    lookup_subjects_delegated,
)
from rebac.engine.delegation import (
    PrincipalGraph,
    check_delegated,
    delegates,
    normalize_via,
    resolve_principals,
)
from rebac.engine.dispatch import Dispatcher, build_chain
from rebac.engine.expand import Expander
from rebac.engine.lookup import (
    ResourceSets,
    cursor_revision,
    lookup_resources,
    lookup_subjects,
    resources_digest,
    subjects_digest,
)
from rebac.engine.model import Reachability, SchemaModel
from rebac.engine.requests import (
    CheckRequest,
    EvalContext,
    ExpandRequest,
    LookupResourcesRequest,
    LookupSubjectsRequest,
    canonical_context,
)
from rebac.engine.results import (
    CheckResult,
    ExpandKind,
    ExpandNode,
    ExpandSubject,
    Hop,
    HopReason,
    LookupPage,
    LookupResourceItem,
    LookupSubjectItem,
    Permissionship,
)
from rebac.engine.trace import CheckTrace, TraceNode, record_check, trace_of
from rebac.errors import EvaluationError, InvalidInputError, LimitExceededError, UnknownRelationError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema.ir import Schema
from rebac.store.base import Consistency, TupleReader
from rebac.store.revision import Revision

__all__ = [
    "CacheStats",
    "CheckCache",
    "CheckItem",
    "CheckResult",
    "CheckTrace",
    "Engine",
    "ExpandKind",
    "ExpandNode",
    "ExpandSubject",
    "Hop",
    "HopReason",
    "LookupPage",
    "LookupResourceItem",
    "LookupSubjectItem",
    "Permissionship",
    "PrincipalGraph",
    "SchemaModel",
    "trace_of",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One item of a bulk check (``via``: the claimed delegation chain, see :meth:`Engine.check`)."""

    resource: ObjectRef
    permission: str
    subject: SubjectRef
    context: Mapping[str, Any] | None = None
    via: Sequence[SubjectRef] | None = None


class Engine:
    """Check / expand / lookup over one reader and one schema.

    Args:
        reader: The store (only its read protocol is used).
        model: The schema model (see :meth:`build`).
        settings: Depth, deadline and cache settings.
        cache: The check cache; ``None`` (or ``settings.cache_enabled`` false) disables caching.
        clock: Wall clock deciding expiration (injectable for tests).
    """

    __slots__ = ("_cache", "_clock", "_head", "_reader", "_sets", "_uncached", "model", "settings")

    def __init__(
        self,
        reader: TupleReader,
        model: SchemaModel,
        *,
        settings: EngineSettings | None = None,
        cache: CheckCache | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._reader = reader
        self.model = model
        self.settings = settings or EngineSettings()
        self._cache = cache if self.settings.cache_enabled else None
        self._clock = clock
        self._head: Dispatcher = build_chain(reader, self._cache)
        # Traced checks bypass the cross-request cache (a complete trace, the same on every call).
        self._uncached: Dispatcher = build_chain(reader, None) if self._cache is not None else self._head
        # Exact multi-page lookup answers, so following pages are not recomputed (keyed by
        # revision, schema hash and request; bounded by expiry). Off with the cache.
        self._sets = ResourceSets() if self.settings.cache_enabled else None

    @classmethod
    def build(
        cls,
        reader: TupleReader,
        schema: Schema,
        *,
        schema_hash: str | None = None,
        reachability: Reachability | None = None,
        settings: EngineSettings | None = None,
        cache: CheckCache | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Engine:
        """Compile the schema's caveats once and build the engine."""
        model = SchemaModel.build(schema, schema_hash=schema_hash, reachability=reachability)
        return cls(reader, model, settings=settings, cache=cache, clock=clock or _utcnow)

    @property
    def cache(self) -> CheckCache | None:
        """The cache in use, if any."""
        return self._cache

    @property
    def reader(self) -> TupleReader:
        """The store the engine reads (the read seam for admin views that walk relationships)."""
        return self._reader

    async def _context(
        self, consistency: Consistency | None, revision: Revision | None, context: Mapping[str, Any] | None
    ) -> EvalContext:
        start = time.monotonic()
        if revision is None:
            revision = await self._reader.resolve(consistency or Consistency())
        ctx_map = dict(context) if context else {}
        key = canonical_context(ctx_map)
        size = len(key) if key.isascii() else len(key.encode())
        if size > limits.MAX_CAVEAT_CONTEXT_BYTES:
            raise LimitExceededError(
                "the caveat context is too large",
                limit="MAX_CAVEAT_CONTEXT_BYTES",
                maximum=limits.MAX_CAVEAT_CONTEXT_BYTES,
                actual=size,
            )
        return EvalContext(
            revision=revision,
            model=self.model,
            context=ctx_map,
            context_key=key,
            deadline=start + self.settings.request_deadline_seconds,
            now=self._clock(),
        )

    def _validate(self, resource_type: str, permission: str, subject: SubjectRef | None) -> None:
        self.model.member(resource_type, permission)
        if subject is None:
            return
        self.model.definition(subject.type)
        if subject.relation is not None and not self.model.has_member(subject.type, subject.relation):
            raise UnknownRelationError(f"{subject.type!r} has no relation or permission {subject.relation!r}")

    def _check_subject(self, subject: SubjectRef) -> None:
        if subject.is_wildcard:
            raise InvalidInputError("a check subject cannot be a wildcard")

    async def _begin(
        self,
        resource: ObjectRef,
        permission: str,
        subject: SubjectRef,
        read: tuple[Consistency | None, Revision | None, Mapping[str, Any] | None],
        via: Sequence[SubjectRef] | None,
        *,
        delegation: bool,
    ) -> tuple[EvalContext, tuple[SubjectRef, ...] | None]:
        """Validate one check; its context, and the claimed chain when the check is delegated."""
        self._check_subject(subject)
        self._validate(resource.type, permission, subject)
        if via and (not delegation or subject.relation is not None):
            raise InvalidInputError("via needs delegation and a plain object subject")
        ctx = await self._context(*read)
        if delegation and (via or delegates(self.model, subject)):
            return ctx, normalize_via(subject, via or (), self.settings.max_delegation_hops)
        return ctx, None

    async def _decide(
        self,
        head: Dispatcher,
        ctx: EvalContext,
        check: tuple[ObjectRef, str, SubjectRef],
        chain: tuple[SubjectRef, ...] | None,
        trace: TraceNode | None = None,
    ) -> CheckResult:
        """Answer one validated check through ``head`` (delegated when ``chain`` is not ``None``)."""
        resource, permission, subject = check
        if chain is not None:
            return await check_delegated(
                self._reader,
                head,
                ctx,
                check,
                depth_remaining=self.settings.max_depth,
                max_hops=self.settings.max_delegation_hops,
                via=chain,
                trace=trace,
            )
        traced = None if trace is None else {resource.id: trace}
        request = CheckRequest(
            resource.type, (resource.id,), permission, subject, self.settings.max_depth, ctx, trace=traced
        )
        return (await head.check(request))[resource.id]

    # --- operations -------------------------------------------------------------------------------

    async def resolve(self, consistency: Consistency | None = None) -> Revision:
        """The revision reads with ``consistency`` use."""
        return await self._reader.resolve(consistency or Consistency())

    async def principals(
        self, subject: SubjectRef, *, revision: Revision, now: datetime | None = None
    ) -> PrincipalGraph:
        """The principal graph of ``subject`` (its ``acts_for`` chain) at ``revision``.

        ``now`` decides which edges have expired (default: the engine's clock).

        Raises:
            DelegationError: a chain is longer than the hop limit.
            BudgetExceededError: more than ``MAX_FANOUT`` identities are reached.
        """
        ctx = await self._context(None, revision, None)
        if now is not None:
            ctx = replace(ctx, now=now)
        return await resolve_principals(self._reader, ctx, subject, self.settings.max_delegation_hops)

    async def check(
        self,
        resource: ObjectRef,
        permission: str,
        subject: SubjectRef,
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
        context: Mapping[str, Any] | None = None,
        via: Sequence[SubjectRef] | None = None,
        delegation: bool = True,
    ) -> CheckResult:
        """Does ``subject`` have ``permission`` on ``resource``?

        Args:
            resource: The resource.
            permission: A permission or relation of its type.
            subject: Who asks.
            consistency: How fresh the read must be (ignored with ``revision``).
            revision: Read at exactly this revision.
            context: Caveat context.
            via: The actual call chain above ``subject``, nearest principal first, towards the
                human (an OAuth ``act`` chain; a leading ``subject`` is ignored, a prefix of the
                chain is accepted): each entry must be a recorded principal of the one before,
                else the answer is no with a ``chain_mismatch`` hop.
            delegation: ``False`` answers from the subject's own grants only (raw reach).

        Raises:
            EvaluationError: (and subclasses) when no decision could be made; treat as deny.
            DelegationError: the subject's principal chain is longer than the hop limit.
            NotFoundError: unknown type or relation.
            InvalidInputError: malformed request (e.g. a wildcard subject, ``via`` without
                delegation or on a subject set).
        """
        read = (consistency, revision, context)
        ctx, chain = await self._begin(resource, permission, subject, read, via, delegation=delegation)
        return await self._decide(self._head, ctx, (resource, permission, subject), chain)

    async def check_traced(
        self,
        resource: ObjectRef,
        permission: str,
        subject: SubjectRef,
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
        context: Mapping[str, Any] | None = None,
        via: Sequence[SubjectRef] | None = None,
        delegation: bool = True,
    ) -> tuple[CheckResult, CheckTrace]:
        """:meth:`check`, with the trace the evaluator recorded while deciding.

        The result is the one :meth:`check` answers (same validation, same errors). The check
        bypasses the cross-request cache, so the trace is complete and the same on every call;
        it is bounded by :data:`rebac.limits.TRACE_NODE_BUDGET` nodes. A delegated check's root
        has one child per hop (each hop's raw check, labelled with that hop's subject). When the
        check fails, the error is raised as by :meth:`check` and carries the partial trace
        (:func:`trace_of`).

        Raises:
            EvaluationError: (and every other error of :meth:`check`) exactly as :meth:`check`.
        """
        read = (consistency, revision, context)
        ctx, chain = await self._begin(resource, permission, subject, read, via, delegation=delegation)
        check = (resource, permission, subject)

        async def decide(root: TraceNode) -> CheckResult:
            return await self._decide(self._uncached, ctx, check, chain, root)

        return await record_check(self.model, check, decide)

    async def check_bulk(
        self,
        items: Sequence[CheckItem],
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
        delegation: bool = True,
    ) -> list[CheckResult | EvaluationError]:
        """Check many items at one revision; a failing item yields its error, not a decision.

        Raises:
            LimitExceededError: more than ``MAX_BULK_CHECK_ITEMS`` items.
        """
        if len(items) > limits.MAX_BULK_CHECK_ITEMS:
            raise LimitExceededError(
                "too many bulk check items",
                limit="MAX_BULK_CHECK_ITEMS",
                maximum=limits.MAX_BULK_CHECK_ITEMS,
                actual=len(items),
            )
        if revision is None:
            revision = await self._reader.resolve(consistency or Consistency())
        out: list[CheckResult | EvaluationError] = []
        for item in items:
            try:
                out.append(
                    await self.check(
                        item.resource,
                        item.permission,
                        item.subject,
                        revision=revision,
                        context=item.context,
                        via=item.via,
                        delegation=delegation,
                    )
                )
            except EvaluationError as exc:
                out.append(exc)
        return out

    async def expand(
        self,
        resource: ObjectRef,
        permission: str,
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
    ) -> ExpandNode:
        """The userset tree of ``resource#permission``."""
        self._validate(resource.type, permission, None)
        ctx = await self._context(consistency, revision, None)
        return await Expander(self._reader).expand(
            ExpandRequest(resource, permission, self.settings.max_depth, ctx)
        )

    async def lookup_resources(
        self,
        resource_type: str,
        permission: str,
        subject: SubjectRef,
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
        context: Mapping[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        delegation: bool = True,
    ) -> LookupPage[LookupResourceItem]:
        """Resources of ``resource_type`` on which ``subject`` has ``permission`` (one page).

        For a delegating subject this is its effective reach (capped by every principal up its
        chain); ``delegation=False`` gives its raw reach.
        """
        self._check_subject(subject)
        self._validate(resource_type, permission, subject)
        delegated = delegation and delegates(self.model, subject)
        ctx = await self._context(consistency, revision, context)
        request = LookupResourcesRequest(
            resource_type, permission, subject, self.settings.max_depth, ctx, limit, cursor
        )
        digest = delegated_resources_digest(request) if delegated else resources_digest(request)
        pinned = cursor_revision(cursor, digest)
        if pinned is not None and pinned != ctx.revision:
            ctx = await self._context(None, pinned, context)
            request = LookupResourcesRequest(
                resource_type, permission, subject, self.settings.max_depth, ctx, limit, cursor
            )
        if delegated:
            return await lookup_resources_delegated(
                self._reader,
                self._head,
                request,
                max_hops=self.settings.max_delegation_hops,
                sets=self._sets,
            )
        return await lookup_resources(self._reader, self._head, request, sets=self._sets)

    async def lookup_subjects(
        self,
        resource: ObjectRef,
        permission: str,
        subject_type: str,
        subject_relation: str | None = None,
        *,
        consistency: Consistency | None = None,
        revision: Revision | None = None,
        context: Mapping[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        delegation: bool = True,
    ) -> LookupPage[LookupSubjectItem]:
        """Subjects of ``subject_type`` with ``permission`` on ``resource`` (one page).

        For a delegating ``subject_type`` (and no ``subject_relation``) only subjects whose
        delegated check holds are listed, and no wildcard item; ``delegation=False`` lists raw.
        """
        self._validate(resource.type, permission, None)
        definition = self.model.definition(subject_type)
        if subject_relation is not None:
            self.model.member(subject_type, subject_relation)
        delegated = delegation and subject_relation is None and definition.acts_for is not None
        ctx = await self._context(consistency, revision, context)
        request = LookupSubjectsRequest(
            resource, permission, subject_type, subject_relation, self.settings.max_depth, ctx, limit, cursor
        )
        digest = delegated_subjects_digest(request) if delegated else subjects_digest(request)
        pinned = cursor_revision(cursor, digest)
        if pinned is not None and pinned != ctx.revision:
            ctx = await self._context(None, pinned, context)
            request = LookupSubjectsRequest(
                resource,
                permission,
                subject_type,
                subject_relation,
                self.settings.max_depth,
                ctx,
                limit,
                cursor,
            )
        if delegated:
            return await lookup_subjects_delegated(
                self._reader, self._head, request, max_hops=self.settings.max_delegation_hops
            )
        return await lookup_subjects(self._reader, self._head, request)
