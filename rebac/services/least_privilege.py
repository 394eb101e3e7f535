"""Least privilege: what a subject holds, what it used over a window, and the grants it can lose.

:meth:`LeastPrivilege.report` compares

* **held**: every (resource, permission) in the subject's effective reach (its blast radius,
  :mod:`rebac.services.blast_radius`, after the ``acts_for`` caps of its principals; permissions
  only, not relations; a conditional reach counts as held), with the raw count beside it, and
* **used**: the distinct (resource, permission) pairs of its *allowed* decisions in the decision
  log, decided in the window (``since`` before ``now``),

and lists the **unused** held permissions, each with the path the blast radius found and the
stored relationships on it (the tuples that carry it).

**Grants to remove** are direct relationships of the subject (``resource#relation@subject``)
that carry some of its reach (they are on a reach path) and whose removal takes away no used
permission. They are chosen greedily and proven: a candidate joins the set only when, on an
overlay of the snapshot with the whole set deleted (:class:`~rebac.services.overlay.OverlayReader`;
nothing is written), every *protected* decision is still allowed. The protected decisions are
the distinct used checks (with their logged context) that are allowed now, and those of every
subject that acts for this one (its delegates, found through the ``acts_for`` relations), whose
effective reach is capped by it. A relation that could *widen* access when it shrinks (it is,
or feeds, the subtracted side of an exclusion somewhere in the schema) is never suggested.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rebac import errors, limits
from rebac.engine.mechanics import SameObject, Through
from rebac.engine.results import Permissionship
from rebac.engine.rewrites import steps
from rebac.refs import ObjectRef, Relationship, SubjectRef, external
from rebac.schema import ir
from rebac.services.blast_radius import PathStep, StepKind, blast_radius
from rebac.services.engines import Current
from rebac.services.replaying import (
    LogAnalysis,
    LoggedCheck,
    is_check,
    logged_check,
    recheck_all,
    window_start,
)
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionResult,
    Operation,
    RelationshipFilter,
)
from rebac.store.revision import Revision

__all__ = ["HeldPermission", "LeastPrivilege", "LeastPrivilegeReport", "UsedPermission", "widening_relations"]

Member = tuple[str, str]


@dataclass(frozen=True, slots=True)
class HeldPermission:
    """One permission the subject holds (in its effective reach).

    Attributes:
        resource: The resource.
        permission: The permission.
        conditional: The reach depends on caveat context.
        path: One path from the subject to it (the blast radius's).
    """

    resource: ObjectRef
    permission: str
    conditional: bool
    path: tuple[PathStep, ...]

    @property
    def carried_by(self) -> tuple[str, ...]:
        """The stored relationships on :attr:`path`, in order (``doc:1#viewer@team:a#member``)."""
        return tuple(step.detail for step in self.path if step.kind is StepKind.RELATIONSHIP)


@dataclass(frozen=True, slots=True)
class UsedPermission:
    """One (resource, permission) the subject was allowed in the window.

    Attributes:
        resource: The resource, as logged.
        permission: The permission.
        uses: Allowed decisions for it in the window.
        last_used: The newest of them.
    """

    resource: str
    permission: str
    uses: int
    last_used: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LeastPrivilegeReport:
    """What a subject holds against what it used (see the module docstring).

    Attributes:
        subject: The subject.
        since: The window's length.
        window_start: Its start.
        now: Its end.
        token: The consistency token of that snapshot.
        revision: The store snapshot read (its revision number, as text).
        held: Permissions in the effective reach.
        held_raw: Permissions in the raw reach (its own grants, before delegation caps).
        used: Distinct (resource, permission) pairs allowed in the window.
        unused: Held permissions not used in the window.
        used_permissions: The used pairs, most used first.
        removable: Direct grants whose removal takes away no protected decision.
        protected: Distinct checks proven still allowed after removing ``removable``.
        delegates: Subjects acting for this one whose used checks are protected too.
        truncated: A bound was hit (reach budget, decisions read, candidate grants): counts are
            lower bounds and ``removable`` may miss grants; ``message`` says which.
    """

    subject: SubjectRef
    since: timedelta
    window_start: datetime
    now: datetime
    revision: str
    token: str
    held: int
    held_raw: int
    used: int
    unused: tuple[HeldPermission, ...]
    used_permissions: tuple[UsedPermission, ...]
    removable: tuple[Relationship, ...]
    protected: int
    delegates: tuple[SubjectRef, ...]
    truncated: bool = False
    truncated_reason: str | None = None

    @property
    def message(self) -> str:
        """``agent:planner holds 41 permissions, used 3 in the last 30 days`` (and any truncation)."""
        who = external(self.subject)
        text = f"{who} holds {self.held} permissions, used {self.used} in the last {_span(self.since)}"
        if self.truncated:
            text += f" (truncated: {self.truncated_reason})"
        return text


def _span(since: timedelta) -> str:
    seconds = int(since.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def widening_relations(schema: ir.Schema) -> frozenset[Member]:
    """The members whose shrinking can widen some reach: subtracted sides and what feeds them.

    A member on the subtracted side of an exclusion (``view = viewer - banned``: ``banned``)
    grows the permission when it shrinks, and so does anything that feeds it (a relation allowing
    ``team#member`` feeds ``team#member`` into it, an arrow feeds its tupleset and target).
    """
    feeds: defaultdict[Member, set[Member]] = defaultdict(set)
    seeds: set[Member] = set()

    def through(definition: ir.Definition, step: Through) -> set[Member]:
        found = definition.relations.get(step.tupleset)
        out = {(definition.name, step.tupleset)}
        out.update((a.type, step.computed) for a in (found.allowed if found else ()) if a.relation is None)
        return out

    def members(definition: ir.Definition, items: Iterable[object]) -> set[Member]:
        out: set[Member] = set()
        for step in items:
            if isinstance(step, SameObject):
                out.add((definition.name, step.relation))
            elif isinstance(step, Through):
                out |= through(definition, step)
        return out

    for definition in schema.definitions.values():
        for relation in definition.relations.values():
            feeds[definition.name, relation.name].update(
                (a.type, a.relation) for a in relation.allowed if a.relation is not None
            )
        for permission in definition.permissions.values():
            every = Counter(steps(permission.rewrite))
            granting = Counter(steps(permission.rewrite, granting=True))
            feeds[definition.name, permission.name] |= members(definition, every)
            seeds |= members(definition, (every - granting).elements())
    out = set(seeds)
    todo = list(seeds)
    while todo:
        for source in feeds.get(todo.pop(), ()):
            if source not in out:
                out.add(source)
                todo.append(source)
    return frozenset(out)


class LeastPrivilege(LogAnalysis):
    """Least-privilege reports over one store (see the module docstring)."""

    __slots__ = ()

    async def _used(
        self, subjects: Iterable[SubjectRef], start: datetime, end: datetime, budget: int
    ) -> tuple[dict[str, list[LoggedCheck]], dict[tuple[str, str], UsedPermission], bool, int]:
        """What the window's allowed decisions say.

        Returns:
            The distinct allowed checks per subject text, the first subject's used pairs, whether
            ``budget`` was hit, and how many allowed decisions cannot be checked again (their logged
            context was not kept).
        """
        checks: dict[str, list[LoggedCheck]] = {}
        used: dict[tuple[str, str], UsedPermission] = {}
        first = True
        read = unreplayable = 0
        truncated = False
        for subject in subjects:
            text = str(external(subject))
            flt = DecisionFilter(subject=text, result=DecisionResult.ALLOWED, since=start, until=end)
            seen: dict[tuple[str, str, str, str], LoggedCheck] = {}
            async for record in self._decisions.export(flt, total=budget - read + 1):
                read += 1
                if not is_check(record):
                    continue  # an approved access request is no use of the permission
                if read > budget:
                    truncated = True
                    break
                check = logged_check(record)
                if isinstance(check, LoggedCheck):
                    seen.setdefault(check.key, check)
                else:
                    unreplayable += 1
                if first:
                    pair = (record.resource, record.permission)
                    old = used.get(pair)
                    used[pair] = UsedPermission(
                        record.resource,
                        record.permission,
                        1 + (old.uses if old else 0),
                        max(record.decided_at, old.last_used) if old else record.decided_at,
                    )
            checks[text] = list(seen.values())
            first = False
            if truncated:
                break
        return checks, used, truncated, unreplayable

    async def _delegates(
        self, schema: ir.Schema, subject: SubjectRef, revision: Revision
    ) -> list[SubjectRef]:
        """Every subject acting for ``subject``, transitively (bounded by ``MAX_FANOUT``)."""
        if subject.relation is not None:
            return []
        relations = [(d.name, d.acts_for) for d in schema.definitions.values() if d.acts_for is not None]
        found: list[SubjectRef] = []
        seen = {subject}
        todo = [subject]
        while todo:
            principal = todo.pop()
            for type_name, relation in relations:
                flt = RelationshipFilter(
                    resource_type=type_name,
                    relation=relation,
                    subject_type=principal.type,
                    subject_ids=(principal.id,),
                    subject_relation=None,
                )
                async for rel in self._store.query(flt, revision=revision):
                    delegate = SubjectRef(rel.resource.type, rel.resource.id)
                    if delegate not in seen:
                        if len(seen) > limits.MAX_FANOUT:
                            raise errors.BudgetExceededError("too many delegates to protect their decisions")
                        seen.add(delegate)
                        found.append(delegate)
                        todo.append(delegate)
        return found

    async def report(
        self, current: Current, subject: SubjectRef, since: timedelta, *, now: datetime | None = None
    ) -> LeastPrivilegeReport:
        """Held against used for ``subject`` over the last ``since``, and the grants it can lose.

        Raises:
            InvalidInputError: a wildcard subject or a non-positive ``since``.
            NotFoundError: an unknown subject type or relation; the store keeps no decision log.
            EvaluationError: the reach or a proof could not be decided.
            StoreError: the store could not be read.
        """
        end = now or self._clock()
        start = window_start(since, end)
        self._decisions.log()  # refuses a store that keeps no decision log, before any work
        engine = current.engine
        schema = engine.model.schema
        revision = await self._store.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
        reach = await blast_radius(engine, subject, revision=revision)
        reasons: list[str] = []
        if reach.truncated:
            reasons.append(reach.message or "the reach budget was hit")
        held: list[HeldPermission] = []
        held_raw = 0
        paths: set[str] = set()
        for entry in reach.entries:
            paths.update(
                s.detail for s in entry.path if s.kind is StepKind.RELATIONSHIP and s.source == str(subject)
            )
            definition = schema.definitions.get(entry.resource.type)
            if definition is None or entry.permission not in definition.permissions:
                continue
            held_raw += entry.raw is not Permissionship.NO_PERMISSION
            effective = entry.raw if entry.effective is None else entry.effective
            if effective is not Permissionship.NO_PERMISSION:
                held.append(
                    HeldPermission(
                        entry.resource, entry.permission, effective is Permissionship.CONDITIONAL, entry.path
                    )
                )
        delegates = await self._delegates(schema, subject, revision)
        checks, used, over, blind = await self._used(
            [subject, *delegates], start, end, limits.LEAST_PRIVILEGE_MAX_USES
        )
        if over:
            most = limits.LEAST_PRIVILEGE_MAX_USES
            reasons.append(f"more than {most} allowed decisions in the window: no grant is suggested")
        if blind:
            reasons.append(f"{blind} allowed decisions cannot be checked again: no grant is suggested")
        distinct = {check.key: check for listed in checks.values() for check in listed}
        now_allowed = await recheck_all(engine, distinct.values(), revision)
        protected = [c for c in distinct.values() if now_allowed[c.key].result is DecisionResult.ALLOWED]
        used_texts = set(used)
        unused = tuple(h for h in held if (str(external(h.resource)), h.permission) not in used_texts)
        removable: tuple[Relationship, ...] = ()
        capped = False
        if not over and not blind:  # every use must be provable, or nothing is suggested
            removable, capped = await self._removable(current, subject, revision, paths, protected)
        if capped:
            reasons.append(f"more than {limits.LEAST_PRIVILEGE_MAX_GRANTS} candidate grants")
        return LeastPrivilegeReport(
            subject=subject,
            since=since,
            window_start=start,
            now=end,
            revision=str(revision),
            token=self._store.token_for(revision),
            held=len(held),
            held_raw=held_raw,
            used=len(used),
            unused=unused,
            used_permissions=tuple(sorted(used.values(), key=lambda u: (-u.uses, u.resource, u.permission))),
            removable=removable,
            protected=len(protected),
            delegates=tuple(delegates),
            truncated=bool(reasons),
            truncated_reason="; ".join(reasons) or None,
        )

    async def _removable(
        self,
        current: Current,
        subject: SubjectRef,
        revision: Revision,
        paths: set[str],
        protected: list[LoggedCheck],
    ) -> tuple[tuple[Relationship, ...], bool]:
        """The greedy, proven removal set (see the module docstring) and whether candidates were capped."""
        schema = current.engine.model.schema
        widening = widening_relations(schema)
        flt = RelationshipFilter(
            subject_type=subject.type, subject_ids=(subject.id,), subject_relation=subject.relation
        )
        candidates = [
            rel
            async for rel in self._store.query(flt, revision=revision)
            if str(Relationship(rel.resource, rel.relation, rel.subject)) in paths
            and (rel.resource.type, rel.relation) not in widening
        ]
        capped = len(candidates) > limits.LEAST_PRIVILEGE_MAX_GRANTS
        chosen: list[Relationship] = []
        for candidate in candidates[: limits.LEAST_PRIVILEGE_MAX_GRANTS]:
            trial = [*chosen, candidate]
            engine = self.overlay_engine(revision, schema, [(Operation.DELETE, r) for r in trial])
            answers = await recheck_all(engine, protected, revision)
            if all(answer.result is DecisionResult.ALLOWED for answer in answers.values()):
                chosen.append(candidate)
        return tuple(chosen), capped
