"""The non-human identity inventory (DESIGN §7): every agent-like identity and its review state.

An *identity* is an object of a type that declares ``acts_for`` or is listed in
``EngineSettings.non_human_types`` (``REBAC_NON_HUMAN_TYPES``) that some live relationship names
(as resource or as plain subject). For each one, :func:`list_identities` reports

* its **principal chain** (read exactly as checks read it, :func:`resolve_principals`, up to the
  hop limit): the edges, the shortest chain to a human, the **owners** (the humans at the roots),
  and whether the chain is an orphan, a cycle or too long;
* its **creation** revision and time: the earliest live relationship naming it;
* the **expiry** of its grants: the earliest and latest ``expires_at`` among them;
* the **last decision** seen for it, from a :class:`DecisionLookup` (``None`` without one);
* its **blast-radius size** (:func:`blast_radius` counts, bounded by a budget; truncation said);
* its **review state** (:mod:`rebac.services.reviews`) and its **flags**.

Identities are enumerated type by type in id order with :meth:`IdentityReader.object_ids`, and the
relationships of each page are read in two batched reads (by subject type, by resource type). A
page holds at most ``limit`` identities and examines at most ``max(limit, 1) * SCAN_FACTOR``
(so ``flagged_only`` stays bounded); the opaque cursor pins the revision and resumes after the
last identity examined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol

from rebac import opaque
from rebac.engine.delegation import PrincipalGraph
from rebac.errors import (
    BudgetExceededError,
    DelegationError,
    EvaluationError,
    InvalidInputError,
    InvalidTokenError,
)
from rebac.refs import SubjectRef
from rebac.services.blast_radius import blast_radius
from rebac.services.reviews import (
    IdentityStore,
    Reviewed,
    ReviewState,
    identity_types,
    read_reviewed,
    review_state,
)
from rebac.store.base import Consistency, DecisionFilter, DecisionLog, RelationshipVersion
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = [
    "DEFAULT_BLAST_BUDGET",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "BlastSize",
    "DecisionLookup",
    "Identity",
    "IdentityFlag",
    "InventoryPage",
    "Ownership",
    "decision_lookup",
    "list_identities",
    "ownership",
]

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
SCAN_FACTOR: Final = 20
DEFAULT_BLAST_BUDGET: Final = 1_000
"""Blast-radius budget per identity in the inventory (graph nodes and entries)."""


class IdentityFlag(StrEnum):
    """Why an identity needs a reviewer's attention."""

    NEVER_REVIEWED = "never_reviewed"
    GRANTS_ADDED = "grants_added_since_review"
    UNUSED = "unused"
    ORPHAN = "orphan"
    PRINCIPAL_CYCLE = "principal_cycle"
    CHAIN_TOO_LONG = "chain_too_long"
    NO_OWNER = "no_owner"


class DecisionLookup(Protocol):
    """The one thing the inventory needs from a decision log."""

    async def last_decision_at(self, subject: SubjectRef) -> datetime | None:
        """When the newest recorded decision about ``subject`` was made, or ``None``."""
        ...


class _FromDecisionLog:
    """:class:`DecisionLookup` over a store's decision log (newest record of the subject)."""

    __slots__ = ("_log",)

    def __init__(self, log: DecisionLog) -> None:
        self._log = log

    async def last_decision_at(self, subject: SubjectRef) -> datetime | None:
        records = await self._log.query_decisions(DecisionFilter(subject=str(subject)), limit=1)
        return records[0].decided_at if records else None


def decision_lookup(log: DecisionLog | None) -> DecisionLookup | None:
    """A :class:`DecisionLookup` over a store's decision log (``None`` when it keeps none)."""
    return None if log is None else _FromDecisionLog(log)


@dataclass(frozen=True, slots=True)
class BlastSize:
    """How much an identity can reach (counts of blast-radius entries).

    Attributes:
        raw: Entries of its raw reach (own grants).
        effective: Entries of its effective reach (after delegation caps).
        truncated: The budget was hit: the counts are lower bounds (``message`` says so).
        message: ``truncated at N: ...`` when truncated.
        error: Why no size could be computed (the counts are then 0).
    """

    raw: int
    effective: int
    truncated: bool = False
    message: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """One non-human identity, as :func:`list_identities` reports it (see the module docstring)."""

    subject: SubjectRef
    delegates: bool
    chain: tuple[SubjectRef, ...]
    principals: tuple[tuple[SubjectRef, SubjectRef], ...]
    owners: tuple[SubjectRef, ...]
    chain_error: str | None
    created_revision: Revision | None
    created_at: datetime | None
    grants: tuple[RelationshipVersion, ...]
    grants_truncated: bool
    expires_first: datetime | None
    expires_last: datetime | None
    last_decision_at: datetime | None
    decisions_known: bool
    blast: BlastSize | None
    review: ReviewState
    flags: frozenset[IdentityFlag] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class InventoryPage:
    """One page of the inventory.

    Attributes:
        revision: The revision every read used (pinned by the cursor).
        types: The identity types listed.
        identities: This page's identities, by type then id.
        cursor: Resume after this page; ``None`` when the inventory is exhausted.
        examined: Identities examined for this page (more than listed with ``flagged_only``).
    """

    revision: Revision
    types: tuple[str, ...]
    identities: tuple[Identity, ...]
    cursor: str | None
    examined: int


# --- cursor -----------------------------------------------------------------------------------------


def _digest(types: Sequence[str], flagged_only: bool) -> str:
    return f"{','.join(types)}|{int(flagged_only)}"


def _encode_cursor(revision: Revision, digest: str, position: tuple[str, str]) -> str:
    return opaque.Cursor(revision.value, digest, position).encode()


def _decode_cursor(text: str, digest: str) -> tuple[Revision, tuple[str, str]]:
    cursor = opaque.Cursor.decode(text, digest, size=2)
    if cursor.revision is None:
        raise InvalidTokenError("the cursor is malformed")
    return Revision(cursor.revision), (cursor.after[0], cursor.after[1])


# --- one identity -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chain:
    chain: tuple[SubjectRef, ...] = ()
    principals: tuple[tuple[SubjectRef, SubjectRef], ...] = ()
    owners: tuple[SubjectRef, ...] = ()
    error: str | None = None
    flags: frozenset[IdentityFlag] = frozenset()


def _chain_of(graph: PrincipalGraph, non_human: frozenset[str]) -> _Chain:
    edges = tuple((node, p) for node in graph.order for p in graph.principals.get(node, {}))
    parent: dict[SubjectRef, SubjectRef] = {}
    for node, principal in edges:
        parent.setdefault(principal, node)
    roots = [node for node in graph.order if node not in graph.principals and node != graph.subject]
    owners = tuple(node for node in roots if node.type not in non_human)
    flags: set[IdentityFlag] = set()
    if graph.cyclic:
        flags.add(IdentityFlag.PRINCIPAL_CYCLE)
    if graph.principals.get(graph.subject) == {}:
        flags.add(IdentityFlag.ORPHAN)
    if not owners and not flags:
        flags.add(IdentityFlag.NO_OWNER)
    end = owners[0] if owners else (roots[0] if roots else None)
    chain: list[SubjectRef] = []
    while end is not None:
        chain.append(end)
        end = parent.get(end)
    return _Chain(
        chain=tuple(reversed(chain)) or (graph.subject,),
        principals=edges,
        owners=owners,
        error="principal_cycle" if graph.cyclic else None,
        flags=frozenset(flags),
    )


async def _principal_chain(
    engine: Engine, subject: SubjectRef, revision: Revision, now: datetime | None
) -> _Chain:
    model = engine.model
    if model.definition(subject.type).acts_for is None:
        return _Chain(chain=(subject,))
    try:
        graph = await engine.principals(subject, revision=revision, now=now)
    except (DelegationError, BudgetExceededError) as exc:
        reason = str(exc.details.get("reason", "chain_unresolved"))
        return _Chain(chain=(subject,), error=reason, flags=frozenset({IdentityFlag.CHAIN_TOO_LONG}))
    return _chain_of(graph, frozenset(engine.settings.non_human_types))


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns an identity: the humans at the roots of its principal chain.

    Attributes:
        owners: The owners, as the inventory lists them (``owners`` of :class:`Identity`).
        resolved: False when the chain could not be followed to its end (longer than the hop
            limit, or too wide): the owners are then unknown, not absent.
    """

    owners: tuple[SubjectRef, ...]
    resolved: bool


async def ownership(engine: Engine, subject: SubjectRef, *, revision: Revision) -> Ownership:
    """The owners of ``subject`` at ``revision``, computed exactly as the inventory computes them."""
    chain = await _principal_chain(engine, subject, revision, None)
    return Ownership(chain.owners, IdentityFlag.CHAIN_TOO_LONG not in chain.flags)


async def _blast_size(engine: Engine, subject: SubjectRef, revision: Revision, budget: int) -> BlastSize:
    try:
        result = await blast_radius(engine, subject, revision=revision, budget=budget)
    except EvaluationError as exc:
        return BlastSize(0, 0, error=exc.message)
    raw = sum(group.raw_count for group in result.groups)
    effective = sum(group.effective_count for group in result.groups) if result.delegated else raw
    return BlastSize(raw, effective, truncated=result.truncated, message=result.message)


@dataclass(frozen=True, slots=True)
class _Options:
    revision: Revision
    now: datetime
    decisions: DecisionLookup | None
    blast_budget: int | None
    unused_after: timedelta


async def _identity(
    engine: Engine, subject: SubjectRef, reviewed: Reviewed, state: ReviewState, options: _Options
) -> Identity:
    chain = await _principal_chain(engine, subject, options.revision, options.now)
    first = min(reviewed.named_by, key=lambda v: v.created.value, default=None)
    expiries = [v.relationship.expires_at for v in reviewed.grants if v.relationship.expires_at is not None]
    last_decision = None if options.decisions is None else await options.decisions.last_decision_at(subject)
    blast = None
    if options.blast_budget is not None:
        blast = await _blast_size(engine, subject, options.revision, options.blast_budget)
    flags = set(chain.flags)
    if state.last is None:
        flags.add(IdentityFlag.NEVER_REVIEWED)
    if state.changed:
        flags.add(IdentityFlag.GRANTS_ADDED)
    if options.decisions is not None:
        cutoff = options.now - options.unused_after
        old_enough = first is None or first.committed_at is None or first.committed_at <= cutoff
        if old_enough and (last_decision is None or last_decision <= cutoff):
            flags.add(IdentityFlag.UNUSED)
    return Identity(
        subject=subject,
        delegates=engine.model.definition(subject.type).acts_for is not None,
        chain=chain.chain,
        principals=chain.principals,
        owners=chain.owners,
        chain_error=chain.error,
        created_revision=None if first is None else first.created,
        created_at=None if first is None else first.committed_at,
        grants=reviewed.grants,
        grants_truncated=reviewed.truncated,
        expires_first=min(expiries, default=None),
        expires_last=max(expiries, default=None),
        last_decision_at=last_decision,
        decisions_known=options.decisions is not None,
        blast=blast,
        review=state,
        flags=frozenset(flags),
    )


async def _batch(
    engine: Engine, store: IdentityStore, type_name: str, ids: Sequence[str], options: _Options
) -> list[Identity]:
    reviewed = await read_reviewed(store, engine.model, type_name, ids, options.revision)
    latest = await store.latest_reviews(type_name, ids)
    return [
        await _identity(
            engine,
            SubjectRef(type_name, object_id),
            reviewed[object_id],
            review_state(latest.get(object_id), reviewed[object_id]),
            options,
        )
        for object_id in ids
    ]


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def list_identities(
    engine: Engine,
    store: IdentityStore,
    *,
    identity_type: str | None = None,
    flagged_only: bool = False,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    consistency: Consistency | None = None,
    decisions: DecisionLookup | None = None,
    blast_budget: int | None = DEFAULT_BLAST_BUDGET,
    clock: Callable[[], datetime] = _utcnow,
) -> InventoryPage:
    """One page of the non-human identity inventory.

    Args:
        engine: The engine of the current schema (its settings name the extra non-human types,
            the hop limit and ``review_unused_days``).
        store: The store (identity reads and reviews).
        identity_type: Only this type.
        flagged_only: Only identities with at least one flag.
        limit: Most identities on the page (1 to ``MAX_PAGE_SIZE``).
        cursor: From the previous page (pins its revision).
        consistency: How fresh the reads must be (ignored with a cursor).
        decisions: Where the last decision of an identity is looked up; ``None``: unknown (and
            the ``unused`` flag is never set).
        blast_budget: Budget of each identity's blast radius; ``None`` skips it.
        clock: The current time (creation age and the ``unused`` flag).

    Raises:
        InvalidInputError: an unknown or non-identity type, or a bad limit.
        InvalidTokenError: a malformed cursor or one made for other filters.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"the page size must be between 1 and {MAX_PAGE_SIZE}")
    types = identity_types(engine.model, engine.settings.non_human_types)
    if identity_type is not None:
        if identity_type not in types:
            raise InvalidInputError(
                f"{identity_type!r} is not a non-human identity type ({', '.join(types)})"
            )
        types = (identity_type,)
    digest = _digest(types, flagged_only)
    position: tuple[str, str] | None = None
    if cursor:
        revision, position = _decode_cursor(cursor, digest)
    else:
        revision = await engine.resolve(consistency)
    options = _Options(
        revision, clock(), decisions, blast_budget, timedelta(days=engine.settings.review_unused_days)
    )
    out: list[Identity] = []
    examined = 0
    budget = limit * SCAN_FACTOR
    for type_name in types:
        if position is not None and type_name < position[0]:
            continue
        after = position[1] if position is not None and type_name == position[0] else None
        while len(out) < limit and examined < budget:
            size = min(limit - len(out), budget - examined)
            ids = await store.object_ids(type_name, revision=revision, after=after, limit=size)
            if not ids:
                break
            for identity in await _batch(engine, store, type_name, ids, options):
                examined += 1
                if not flagged_only or identity.flags:
                    out.append(identity)
            after = ids[-1]
            if len(ids) < size:
                break
        if len(out) >= limit or examined >= budget:
            return InventoryPage(
                revision,
                types,
                tuple(out),
                _encode_cursor(revision, digest, (type_name, after or "")),
                examined,
            )
    return InventoryPage(revision, types, tuple(out), None, examined)
