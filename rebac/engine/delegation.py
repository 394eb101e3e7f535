"""Delegation (``acts_for``): principal chains, per-hop checks and the capped answer (DESIGN §4).

For a subject ``S`` whose type declares ``acts_for R``::

    allowed(S) = raw(S) AND (OR_P edge(S, P)) AND AND_P (NOT edge(S, P) OR allowed(P))

in three-valued (Kleene) logic over NO < CONDITIONAL < YES. ``edge(S, P)`` is the live, unexpired
relationship ``S#R@P`` read at the request's revision: YES for a plain one, its caveat's outcome
for a caveated one (a caveat evaluating false, or an expired edge, is no edge; a caveat lacking
context is a conditional edge). ``allowed(P)`` is ``raw(P)`` for a principal whose type declares no
``acts_for`` (a human). With plain edges this is simply the conjunction of ``raw`` over every
identity up every chain, and at least one principal for every delegating identity:

* **orphan** -- a delegating identity with no principal is denied;
* **bounded** -- a chain longer than ``max_hops`` principal edges is a :class:`DelegationError`
  (never a decision). It is detected while reading (an identity farther than ``max_hops`` edges
  on its shortest path) or after (the longest path, when the graph has no cycle);
* **principal cycle** -- when the principals reached from ``S`` form a cycle, ``S`` is denied and
  the result is flagged ``cycle_detected``; every identity on the cycle is a ``principal_cycle``
  hop;
* **via** -- an optional claimed call chain (an OAuth token-exchange ``act`` chain): ``via[0]``
  must be a recorded principal of ``S`` and each ``via[i+1]`` a recorded principal of ``via[i]``
  (a leading ``S`` itself is ignored). A prefix of the real chain is accepted; an entry that
  matches no edge denies the check with a ``chain_mismatch`` hop. A caveated edge matched by
  ``via`` makes the answer conditional like any other caveat.

Only plain object subjects are capped: subject sets (``team:x#member``) and types without
``acts_for`` keep their raw answers. Every raw check goes through the dispatcher chain head, so
caching and limits apply to every hop. Principal edges are read per level, batched per type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rebac import limits
from rebac.engine.logic import intersect_all, union_all
from rebac.engine.model import SchemaModel
from rebac.engine.reads import chunked, read_relationships, tuple_existence
from rebac.engine.requests import CheckRequest, EvalContext
from rebac.engine.results import CheckResult, Hop, HopReason, Permissionship
from rebac.engine.trace import TraceNode, dispatch_traced
from rebac.errors import BudgetExceededError, DelegationError, InvalidInputError, LimitExceededError
from rebac.refs import ObjectRef, SubjectRef
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = [
    "Head",
    "PrincipalGraph",
    "capped_results",
    "check_delegated",
    "delegates",
    "normalize_via",
    "resolve_principals",
]

_NO = CheckResult(Permissionship.NO_PERMISSION)
_YES = CheckResult(Permissionship.HAS_PERMISSION)
_NEGATED = {
    Permissionship.NO_PERMISSION: Permissionship.HAS_PERMISSION,
    Permissionship.CONDITIONAL: Permissionship.CONDITIONAL,
    Permissionship.HAS_PERMISSION: Permissionship.NO_PERMISSION,
}
_REASONS = {
    Permissionship.NO_PERMISSION: HopReason.DENIED,
    Permissionship.CONDITIONAL: HopReason.CONDITIONAL,
    Permissionship.HAS_PERMISSION: HopReason.GRANTED,
}

Edges = Mapping[SubjectRef, CheckResult]


class Head(Protocol):
    """The dispatcher chain head, as delegation sees it."""

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Answer a (raw) check request."""
        ...


@dataclass(frozen=True, slots=True)
class PrincipalGraph:
    """The principals of one subject, transitively, as read at one revision.

    Attributes:
        subject: The checked subject.
        order: Every identity reached, breadth first (the subject first).
        depth: Fewest principal edges from the subject to each identity.
        principals: For every reached identity whose type declares ``acts_for``: its principals,
            each with the edge's existence (YES, or CONDITIONAL for a caveat lacking context).
            Identities of other types have no entry; an orphan has an empty one.
        cyclic: Identities on a principal cycle (empty when there is none).
        topological: Every identity, principals before the identities acting for them (empty
            when ``cyclic`` is not).
    """

    subject: SubjectRef
    order: tuple[SubjectRef, ...]
    depth: Mapping[SubjectRef, int]
    principals: Mapping[SubjectRef, Edges]
    cyclic: frozenset[SubjectRef]
    topological: tuple[SubjectRef, ...]


def delegates(model: SchemaModel, subject: SubjectRef) -> bool:
    """Whether checks for ``subject`` are capped by its principals (a plain ``acts_for`` object)."""
    return (
        subject.relation is None
        and not subject.is_wildcard
        and model.definition(subject.type).acts_for is not None
    )


def normalize_via(subject: SubjectRef, via: Sequence[SubjectRef], max_hops: int) -> tuple[SubjectRef, ...]:
    """The claimed chain above ``subject`` (a leading ``subject`` itself is dropped).

    Raises:
        InvalidInputError: an entry is a subject set or a wildcard.
        LimitExceededError: more entries than ``max_hops``.
    """
    chain = tuple(via)
    for entry in chain:
        if entry.relation is not None or entry.is_wildcard:
            raise InvalidInputError(f"a via entry must be a plain object, not {entry}")
    if chain and chain[0] == subject:
        chain = chain[1:]
    if len(chain) > max_hops:
        raise LimitExceededError(
            "the via chain is longer than the delegation hop limit",
            limit="MAX_DELEGATION_HOPS",
            maximum=max_hops,
            actual=len(chain),
        )
    return chain


# --- reading the chain ----------------------------------------------------------------------------


async def _read_edges(
    reader: TupleReader, ctx: EvalContext, nodes: Sequence[SubjectRef]
) -> dict[SubjectRef, dict[SubjectRef, CheckResult]]:
    """The live principal edges of ``nodes`` (all of delegating types): one batched read per type."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        by_type[node.type].append(node.id)
    found: dict[SubjectRef, dict[SubjectRef, CheckResult]] = defaultdict(dict)
    for type_name, ids in by_type.items():
        relation = ctx.model.definition(type_name).acts_for
        flt = RelationshipFilter(resource_type=type_name, relation=relation, subject_relation=None)
        for rel in await read_relationships(reader, ctx, flt, sorted(ids)):
            if rel.subject.is_wildcard or rel.subject.relation is not None:
                continue  # the compiler forbids both in a principal relation; never widen on bad data
            edge = tuple_existence(ctx, rel)
            if edge.is_no:
                continue  # a caveat evaluating false: no edge for this request
            node = SubjectRef(type_name, rel.resource.id)
            principal = SubjectRef(rel.subject.type, rel.subject.id)
            prior = found[node].get(principal)
            found[node][principal] = edge if prior is None else union_all((prior, edge))
    return found


def _too_long(subject: SubjectRef, max_hops: int) -> DelegationError:
    return DelegationError(
        f"the principal chain of {subject} is longer than {max_hops} hops",
        details={"reason": "max_delegation_hops_exceeded", "maximum": max_hops, "subject": str(subject)},
    )


async def resolve_principals(
    reader: TupleReader, ctx: EvalContext, subject: SubjectRef, max_hops: int
) -> PrincipalGraph:
    """Read the principals of ``subject`` level by level, up to ``max_hops`` edges.

    Raises:
        DelegationError: a chain is longer than ``max_hops``.
        BudgetExceededError: more than ``MAX_FANOUT`` identities are reached.
    """
    depth: dict[SubjectRef, int] = {subject: 0}
    order: list[SubjectRef] = [subject]
    principals: dict[SubjectRef, Edges] = {}
    frontier = [subject]
    level = 0
    while frontier:
        delegating = [n for n in frontier if ctx.model.definition(n.type).acts_for is not None]
        if not delegating:
            break
        found = await _read_edges(reader, ctx, delegating)
        upper: list[SubjectRef] = []
        for node in delegating:
            edges = found.get(node, {})
            principals[node] = edges
            for principal in edges:
                if principal in depth:
                    continue
                if level >= max_hops:
                    raise _too_long(subject, max_hops)
                depth[principal] = level + 1
                order.append(principal)
                upper.append(principal)
        if len(order) > limits.MAX_FANOUT:
            raise BudgetExceededError(
                f"the principal graph of {subject} has more than {limits.MAX_FANOUT} identities",
                details={"reason": "delegation_fanout_exceeded", "maximum": limits.MAX_FANOUT},
            )
        frontier = upper
        level += 1
    components = _components(order, principals)
    cyclic = frozenset(
        node
        for component in components
        for node in component
        if len(component) > 1 or node in principals.get(node, {})
    )
    topological: tuple[SubjectRef, ...] = ()
    if not cyclic:
        topological = tuple(node for component in components for node in component)
        longest: dict[SubjectRef, int] = {}
        for node in topological:
            longest[node] = max((longest[p] + 1 for p in principals.get(node, {})), default=0)
        if longest[subject] > max_hops:
            raise _too_long(subject, max_hops)
    return PrincipalGraph(subject, tuple(order), depth, principals, cyclic, topological)


def _components(order: Sequence[SubjectRef], edges: Mapping[SubjectRef, Edges]) -> list[list[SubjectRef]]:
    """Strongly connected components (Tarjan, iterative), principals' components first."""
    index: dict[SubjectRef, int] = {}
    low: dict[SubjectRef, int] = {}
    stack: list[SubjectRef] = []
    on_stack: set[SubjectRef] = set()
    out: list[list[SubjectRef]] = []

    def enter(node: SubjectRef) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in order:
        if root in index:
            continue
        enter(root)
        work = [(root, iter(edges.get(root, {})))]
        while work:
            node, pending = work[-1]
            descended = False
            for nxt in pending:
                if nxt not in index:
                    enter(nxt)
                    work.append((nxt, iter(edges.get(nxt, {}))))
                    descended = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[SubjectRef] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out


# --- combining the hops ---------------------------------------------------------------------------


def _negate(edge: CheckResult) -> CheckResult:
    flipped = _NEGATED[edge.permissionship]
    missing = edge.missing if flipped is Permissionship.CONDITIONAL else frozenset()
    return replace(edge, permissionship=flipped, missing=missing)


def _capped(graph: PrincipalGraph, raw: Mapping[SubjectRef, CheckResult]) -> CheckResult:
    """The subject's delegated answer from every identity's raw answer (one resource)."""
    if graph.cyclic:
        depth = max(raw[node].depth_required for node in graph.order)
        return CheckResult(Permissionship.NO_PERMISSION, depth_required=depth, cycle_detected=True)
    effective: dict[SubjectRef, CheckResult] = {}
    for node in graph.topological:
        own = raw[node]
        edges = graph.principals.get(node)
        if edges is None:
            effective[node] = own
            continue
        terms = [own, union_all(edges.values())]  # no edge at all: an orphan
        terms += [union_all((_negate(edge), effective[p])) for p, edge in edges.items()]
        effective[node] = intersect_all(terms)
    return effective[graph.subject]


async def _raw_results(
    head: Head,
    graph: PrincipalGraph,
    ctx: EvalContext,
    request: tuple[str, tuple[str, ...], str, int],
    known: Mapping[str, CheckResult] | None,
    *,
    trace: TraceNode | None = None,
) -> dict[SubjectRef, Mapping[str, CheckResult]]:
    """Every identity's raw answer for every resource id (the subject's may be ``known``).

    With ``trace`` (a traced check), each identity's raw check is a child node of it, one hop each.
    """
    resource_type, ids, permission, depth_remaining = request
    raw: dict[SubjectRef, Mapping[str, CheckResult]] = {}
    for node in graph.order:
        if node == graph.subject and known is not None:
            raw[node] = known
            continue
        answers: dict[str, CheckResult] = {}
        for chunk in chunked(ids):
            hop = CheckRequest(resource_type, chunk, permission, node, depth_remaining, ctx)
            if trace is None:
                answers.update(await head.check(hop))
            else:
                answers.update(await dispatch_traced(head, hop, dict.fromkeys(chunk, (trace,))))
        raw[node] = answers
    return raw


async def capped_results(
    head: Head,
    graph: PrincipalGraph,
    ctx: EvalContext,
    request: tuple[str, tuple[str, ...], str, int],
    known: Mapping[str, CheckResult] | None = None,
) -> dict[str, CheckResult]:
    """The delegated answers of ``graph.subject`` for a batch of resources.

    Args:
        head: The dispatcher chain head (raw checks go through it).
        graph: The subject's principals, from :func:`resolve_principals`.
        ctx: The request's shared context (its revision is the one ``graph`` was read at).
        request: ``(resource_type, resource_ids, permission, depth_remaining)``.
        known: The subject's raw answers when already computed (by a lookup).
    """
    ids = request[1]
    if graph.cyclic:
        return dict.fromkeys(ids, CheckResult(Permissionship.NO_PERMISSION, cycle_detected=True))
    raw = await _raw_results(head, graph, ctx, request, known)
    return {rid: _capped(graph, _for_resource(raw, rid)) for rid in ids}


def _for_resource(
    raw: Mapping[SubjectRef, Mapping[str, CheckResult]], rid: str
) -> dict[SubjectRef, CheckResult]:
    return {node: answers.get(rid, _NO) for node, answers in raw.items()}


def _hops(
    graph: PrincipalGraph, raw: Mapping[SubjectRef, CheckResult], mismatch: Hop | None
) -> tuple[Hop, ...]:
    acting: dict[SubjectRef, list[SubjectRef]] = defaultdict(list)
    for node in graph.order:
        for principal in graph.principals.get(node, {}):
            acting[principal].append(node)
    hops: list[Hop] = []
    for node in graph.order:
        own = raw[node]
        incoming = [graph.principals[child][node] for child in acting[node]]
        verdict = intersect_all((own, union_all(incoming))) if incoming else own
        permissionship = verdict.permissionship
        reason = _REASONS[permissionship]
        if node in graph.cyclic or graph.principals.get(node) == {}:
            permissionship = Permissionship.NO_PERMISSION
            reason = HopReason.PRINCIPAL_CYCLE if node in graph.cyclic else HopReason.ORPHAN
        hops.append(
            Hop(
                subject=node,
                depth=graph.depth[node],
                permissionship=permissionship,
                reason=reason,
                raw=own.permissionship,
                missing=verdict.missing if permissionship is Permissionship.CONDITIONAL else frozenset(),
                principal_of=tuple(acting[node]),
                expires_at=verdict.expires_at,
            )
        )
    if mismatch is not None:
        hops.append(mismatch)
    # Nearest first; at one depth, a claimed hop that matches nothing comes first.
    return tuple(sorted(hops, key=lambda h: (h.depth, h.reason is not HopReason.CHAIN_MISMATCH)))


def _match_via(graph: PrincipalGraph, via: Sequence[SubjectRef]) -> tuple[CheckResult, Hop | None]:
    """Whether the claimed chain follows recorded edges: the edges' conjunction, or a mismatch hop."""
    terms: list[CheckResult] = []
    previous = graph.subject
    for position, claimed in enumerate(via, start=1):
        edge = graph.principals.get(previous, {}).get(claimed)
        if edge is None:
            hop = Hop(
                subject=claimed,
                depth=position,
                permissionship=Permissionship.NO_PERMISSION,
                reason=HopReason.CHAIN_MISMATCH,
                principal_of=(previous,),
            )
            return _NO, hop
        terms.append(edge)
        previous = claimed
    return (intersect_all(terms) if terms else _YES), None


async def check_delegated(
    reader: TupleReader,
    head: Head,
    ctx: EvalContext,
    check: tuple[ObjectRef, str, SubjectRef],
    *,
    depth_remaining: int,
    max_hops: int,
    via: Sequence[SubjectRef] = (),
    trace: TraceNode | None = None,
) -> CheckResult:
    """The delegated answer for one check, with every hop of the principal chain as evidence.

    Args:
        reader: The store (principal edges are read at ``ctx.revision``).
        head: The dispatcher chain head (every raw check goes through it).
        ctx: The request's shared context.
        check: ``(resource, permission, subject)``.
        depth_remaining: Depth budget of each raw check.
        max_hops: Longest principal chain followed.
        via: The claimed chain above the subject, nearest principal first (already normalised by
            :func:`normalize_via`).
        trace: The root trace node of a traced check: each identity's raw check is recorded
            under it as one hop (see :mod:`rebac.engine.trace`).

    Raises:
        DelegationError: a principal chain is longer than ``max_hops``.
        EvaluationError: (and subclasses) a raw check could not be decided.
    """
    resource, permission, subject = check
    graph = await resolve_principals(reader, ctx, subject, max_hops)
    raw = await _raw_results(
        head, graph, ctx, (resource.type, (resource.id,), permission, depth_remaining), None, trace=trace
    )
    per_node = _for_resource(raw, resource.id)
    verdict = _capped(graph, per_node)
    matched, mismatch = _match_via(graph, via)
    if via:
        verdict = intersect_all((verdict, matched))
    return replace(verdict, provisional=False, delegation=_hops(graph, per_node, mismatch))
