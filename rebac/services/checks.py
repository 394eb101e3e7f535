"""Checks: every decision and every lookup, at a revision of the current schema's engine.

A decision (a v1 check, each bulk item, each AuthZEN evaluation) goes through :meth:`Checks.decide`,
so every source records the same fields (:func:`rebac.services.decisions.check_and_record`) and
fails closed the same way: an engine error is recorded, carries its ``decisionId`` and is re-raised.
Expand and the lookups answer at the revision the caller resolved with :meth:`Checks.revision`, so
a request that reads several times (a page stream, a search) reads one snapshot. Any check may pin
a schema version (DESIGN §2, :meth:`Checks.pinned`): it is then decided, and recorded, under that
version instead of the current one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from rebac.engine import ExpandNode, LookupPage, LookupResourceItem, LookupSubjectItem
from rebac.errors import SchemaVersionNotFoundError
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.decisions import Decision, Decisions, DecisionScope, check_and_record
from rebac.services.engines import Current, Engines
from rebac.services.tracing import traced_decision
from rebac.store.base import Consistency, ConsistencyMode
from rebac.store.revision import Revision

__all__ = ["Checks", "decision_id_of"]


def decision_id_of(exc: BaseException) -> str | None:
    """The decision id a recorded error carries, if any."""
    details = getattr(exc, "details", None)
    found = details.get("decisionId") if isinstance(details, dict) else None
    return found if isinstance(found, str) else None


class Checks:
    """Decisions, expand and lookups.

    Args:
        decisions: The decision log service (its running recorder records every decision).
        engines: The engines of the store's schema versions (for pinned checks); without them a
            check may pin only the version it was given.
    """

    __slots__ = ("_decisions", "_engines")

    def __init__(self, decisions: Decisions, engines: Engines | None = None) -> None:
        self._decisions = decisions
        self._engines = engines

    async def pinned(self, current: Current, schema_version: int | None) -> Current:
        """``current``, or the engine of stored version ``schema_version`` when one is pinned.

        Raises:
            SchemaVersionNotFoundError: no such version (a pinned check never falls back to another).
        """
        if schema_version is None or schema_version == current.version.version:
            return current
        if self._engines is None:
            raise SchemaVersionNotFoundError(f"schema version {schema_version} cannot be pinned here")
        return await self._engines.pinned(schema_version)

    async def revision(self, current: Current, consistency: Consistency | None = None) -> Revision:
        """The revision a read with ``consistency`` uses (default: ``minimize_latency``)."""
        return await current.engine.resolve(consistency)

    async def revision_for_token(self, current: Current, token: str | None) -> Revision:
        """The revision of a request that may carry a write's token: at least as fresh as it."""
        if token is None:
            return await current.engine.resolve(None)
        return await current.engine.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, token))

    async def decide(
        self,
        current: Current,
        caller: str | None,
        source: str,
        revision: Revision,
        check: tuple[ObjectRef, str, SubjectRef],
        *,
        context: Mapping[str, Any] | None = None,
        via: Sequence[SubjectRef] | None = None,
        traced: bool = False,
        schema_version: int | None = None,
    ) -> Decision:
        """Check ``(resource, permission, subject)`` at ``revision`` and record the decision.

        Args:
            current: The engine and schema version of the request.
            caller: The API key id of the caller (``None`` when unknown).
            source: What asked (``check``, ``checkbulk``, ``authzen``, ...), as recorded.
            revision: The revision the check reads.
            check: The resource, permission and subject.
            context: Caveat context.
            via: The claimed delegation chain (see :meth:`rebac.engine.Engine.check`).
            traced: Also return the evaluator's trace of the decision (``withTracing``); a
                traced check bypasses the check cache, so its trace is complete.
            schema_version: Decide under this stored schema version instead of ``current``'s
                (see :meth:`pinned`); recorded with that version.

        Raises:
            EvaluationError: (and other :class:`~rebac.errors.RebacError`) when no decision could
                be made; recorded, with ``decisionId`` in its details. Treat it as a deny.
        """
        current = await self.pinned(current, schema_version)
        version = current.version
        scope = DecisionScope(source, caller, revision, version.version, version.hash)
        resource, permission, subject = check

        def decide() -> Awaitable[Decision]:
            return check_and_record(
                self._decisions.recorder,
                current.engine,
                scope,
                resource,
                permission,
                subject,
                context=context,
                via=via,
                traced=traced,
            )

        tracing = self._decisions.tracing
        if tracing is None:
            return await decide()
        return await traced_decision(
            tracing.tracer,
            source=source,
            permission=permission,
            resource_type=resource.type,
            revision=revision.value,
            decide=decide,
        )

    async def permissions(
        self,
        current: Current,
        resource: ObjectRef,
        subject: SubjectRef,
        *,
        revision: Revision,
        context: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Every permission of the resource's type that ``subject`` holds unconditionally, sorted."""
        engine = current.engine
        granted: list[str] = []
        for name in sorted(engine.model.definition(resource.type).permissions):
            result = await engine.check(resource, name, subject, revision=revision, context=context)
            if result.allowed:
                granted.append(name)
        return granted

    async def expand(
        self, current: Current, resource: ObjectRef, permission: str, *, revision: Revision
    ) -> ExpandNode:
        """The userset tree of ``resource#permission`` at ``revision``."""
        return await current.engine.expand(resource, permission, revision=revision)

    async def lookup_resources(
        self,
        current: Current,
        resource_type: str,
        permission: str,
        subject: SubjectRef,
        *,
        revision: Revision,
        context: Mapping[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> LookupPage[LookupResourceItem]:
        """One page of resources of ``resource_type`` on which ``subject`` has ``permission``.

        A delegating subject's reach is capped by its principals (see
        :meth:`rebac.engine.Engine.lookup_resources`).
        """
        return await current.engine.lookup_resources(
            resource_type, permission, subject, revision=revision, context=context, limit=limit, cursor=cursor
        )

    async def lookup_subjects(
        self,
        current: Current,
        resource: ObjectRef,
        permission: str,
        subject_type: str,
        subject_relation: str | None = None,
        *,
        revision: Revision,
        context: Mapping[str, Any] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> LookupPage[LookupSubjectItem]:
        """One page of subjects of ``subject_type`` with ``permission`` on ``resource``."""
        return await current.engine.lookup_subjects(
            resource,
            permission,
            subject_type,
            subject_relation,
            revision=revision,
            context=context,
            limit=limit,
            cursor=cursor,
        )
