"""What each rewrite kind means: one rule per kind, for every evaluation the engine makes.

This is the only module outside :mod:`rebac.schema` that knows the rewrite kinds of
:mod:`rebac.schema.ir`. Each kind is one :class:`Rule`, registered in :data:`RULES` (keyed by IR
type, looked up once per node), and states the kind's meaning for

* **check** (:meth:`Rule.check`): three-valued, short-circuiting combination of its operands;
* **expand** (:meth:`Rule.expand`): the userset tree node it produces;
* **lookups**: the reverse candidate walk (:meth:`Rule.reverse`, a superset), the exact set
  algebra (:meth:`Rule.exact`, ``None`` when unsure; :meth:`Rule.monotone`, walk-exact kinds);
* **edge-following views** (:func:`steps`): its leaf steps (``rebac.engine.mechanics.Step``):
  "the same object's relation R", "through tupleset T to relation C (any/all)" and "the object
  itself", over every operand or over the operands that can grant.

The evaluators keep their own mechanics (reads, chunking, dispatch through the chain head, the
fixpoint scopes of :mod:`rebac.engine.cycles`, memo, deadlines, budgets) and lend them to the rules
through the small protocols of :mod:`rebac.engine.mechanics` (``CheckOps``, ``ExpandOps``,
``ReverseOps``, ``ExactOps``); rules compose them and never touch a store or a scope themselves.

Adding a rewrite kind:

1. The schema pipeline: its syntax (``lexer.py`` if it needs a token, ``parser.py`` and an
   ``ast.py`` node), its IR dataclass in ``ir.py`` (added to the ``Rewrite`` alias and
   ``__all__``), ``compiler.py`` (AST -> IR), ``format.py`` (IR -> text), ``validate.py`` (the
   names it refers to, cycles) and ``typesystem.py`` (what it may reach, for pruning).
2. This module: a ``Rule`` subclass with ``kind`` set to the IR type and the four evaluations
   (``check``, ``expand``, ``reverse``, ``exact``), plus ``operands``/``granting``/``step``/
   ``monotone`` where the defaults (a leaf that is monotone and steps nowhere) do not fit, and
   one entry in :data:`RULES`.

Nothing else changes: the evaluators, the lookups and the blast-radius walks reach the new kind
only through :data:`RULES`. ``tests/unit/engine/test_rewrite_switch.py`` fails while a kind has
no rule, or when a kind is switched on anywhere else.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import reduce
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar, Final, Generic, TypeVar

from rebac.engine.logic import both, exclude, intersect_all, union_all
from rebac.engine.mechanics import (
    CheckOps,
    ExactOps,
    ExpandOps,
    Results,
    ReverseOps,
    SameObject,
    Step,
    TheObject,
    Through,
)
from rebac.engine.reads import tuple_existence
from rebac.engine.requests import CheckRequest, ExpandRequest
from rebac.engine.results import NO, YES, CheckResult, ExpandKind, ExpandNode, ExpandSubject
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import ir
from rebac.store.base import RelationshipFilter

__all__ = [
    "RULES",
    "Rule",
    "check",
    "exact",
    "expand",
    "monotone",
    "reverse",
    "rule_for",
    "steps",
]

N = TypeVar("N")


# --- the rule of a kind --------------------------------------------------------------------------


class Rule(ABC, Generic[N]):
    """The meaning of the rewrite kind ``N`` (its IR type is :attr:`kind`)."""

    __slots__ = ()

    kind: ClassVar[type[Any]]
    """The IR dataclass this rule gives meaning to."""

    def operands(self, node: N) -> tuple[ir.Rewrite, ...]:
        """Every operand of ``node``, in order."""
        return ()

    def granting(self, node: N) -> tuple[ir.Rewrite, ...]:
        """The operands that can contribute a grant (default: every operand)."""
        return self.operands(node)

    def step(self, node: N) -> Step | None:
        """The leaf step ``node`` itself stands for, if any."""
        return None

    def combine(self, parts: Sequence[Any]) -> Any:
        """Exact operand sets combined (``|``, ``&`` or ``-``, left to right); ``None`` for leaves."""

    def monotone(self, node: N) -> bool:
        """Whether ``node`` itself is monotone and walk-exact (its operands are checked apart)."""
        return True

    @abstractmethod
    async def check(self, node: N, ops: CheckOps, request: CheckRequest, ids: list[str]) -> Results:
        """Answer ``node`` for every id of ``ids`` (three-valued)."""

    @abstractmethod
    async def expand(self, node: N, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        """The expand tree node of ``node``."""

    @abstractmethod
    async def reverse(self, node: N, ops: ReverseOps, resource_type: str) -> set[str]:
        """Candidate ids of ``resource_type`` that may satisfy ``node`` (a superset)."""

    @abstractmethod
    async def exact(self, node: N, ops: ExactOps, resource_type: str) -> set[str] | None:
        """The exact ids of ``resource_type`` satisfying ``node``, or ``None`` if unsure."""


def _itself(subject: SubjectRef, resource_type: str) -> set[str]:
    return {subject.id} if subject.type == resource_type and subject.relation is None else set()


def _node(kind: ExpandKind, request: ExpandRequest, children: Sequence[ExpandNode] = ()) -> ExpandNode:
    return ExpandNode(kind, request.resource, request.relation, children=tuple(children))


class _Nil(Rule[ir.Nil]):
    """``nil``: the empty set."""

    kind = ir.Nil

    async def check(self, node: ir.Nil, ops: CheckOps, request: CheckRequest, ids: list[str]) -> Results:
        return dict.fromkeys(ids, NO)

    async def expand(self, node: ir.Nil, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        return _node(ExpandKind.LEAF, request)

    async def reverse(self, node: ir.Nil, ops: ReverseOps, resource_type: str) -> set[str]:
        return set()

    async def exact(self, node: ir.Nil, ops: ExactOps, resource_type: str) -> set[str] | None:
        return set()


class _Self(Rule[ir.SelfRef]):
    """``self``: the resource itself, as a plain subject of its own type."""

    kind = ir.SelfRef

    def step(self, node: ir.SelfRef) -> Step:
        return TheObject()

    async def check(self, node: ir.SelfRef, ops: CheckOps, request: CheckRequest, ids: list[str]) -> Results:
        subject = request.subject
        plain = subject.relation is None and subject.type == request.resource_type
        return {rid: YES if plain and subject.id == rid else NO for rid in ids}

    async def expand(self, node: ir.SelfRef, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        subject = ExpandSubject(SubjectRef(request.resource.type, request.resource.id))
        return ExpandNode(ExpandKind.LEAF, request.resource, request.relation, subjects=(subject,))

    async def reverse(self, node: ir.SelfRef, ops: ReverseOps, resource_type: str) -> set[str]:
        return _itself(ops.subject, resource_type)

    async def exact(self, node: ir.SelfRef, ops: ExactOps, resource_type: str) -> set[str] | None:
        return _itself(ops.subject, resource_type)


class _Computed(Rule[ir.ComputedUserset]):
    """Another relation or permission of the same object."""

    kind = ir.ComputedUserset

    def step(self, node: ir.ComputedUserset) -> Step:
        return SameObject(node.relation)

    async def check(
        self, node: ir.ComputedUserset, ops: CheckOps, request: CheckRequest, ids: list[str]
    ) -> Results:
        found = await ops.dispatch(
            request, request.resource_type, node.relation, {rid: (rid,) for rid in ids}
        )
        return {rid: found[rid, rid] for rid in ids}

    async def expand(self, node: ir.ComputedUserset, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        return await ops.expand(request.sub(request.resource, node.relation))

    async def reverse(self, node: ir.ComputedUserset, ops: ReverseOps, resource_type: str) -> set[str]:
        return await ops.members(resource_type, node.relation)

    async def exact(self, node: ir.ComputedUserset, ops: ExactOps, resource_type: str) -> set[str] | None:
        return await ops.exact(resource_type, node.relation)


class _Arrow(Rule[ir.TupleToUserset]):
    """``tupleset->computed`` (``.any``) or ``tupleset.all(computed)``, through stored relationships.

    ``any``: subject types lacking ``computed`` are skipped. ``all``: every subject must have it,
    and one whose type lacks it is a non-member (SpiceDB).
    """

    kind = ir.TupleToUserset

    def step(self, node: ir.TupleToUserset) -> Step:
        return Through(node.tupleset, node.computed, node.mode)

    def monotone(self, node: ir.TupleToUserset) -> bool:
        return node.mode == "any"

    async def check(
        self, node: ir.TupleToUserset, ops: CheckOps, request: CheckRequest, ids: list[str]
    ) -> Results:
        ctx = request.ctx
        model = ctx.model
        flt = RelationshipFilter(resource_type=request.resource_type, relation=node.tupleset)
        rels = await ops.read(request, flt, ids)
        if node.mode == "any":
            rels = [rel for rel in rels if model.has_member(rel.subject.type, node.computed)]
        by_type: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for rel in rels:
            by_type[rel.subject.type][rel.subject.id].add(rel.resource.id)
        answers: dict[tuple[str, str, str], CheckResult] = {}
        for subject_type, parents in by_type.items():
            if not model.has_member(subject_type, node.computed):
                for sid, rids in parents.items():
                    answers.update({(subject_type, sid, rid): NO for rid in rids})
                continue
            found = await ops.dispatch(request, subject_type, node.computed, parents)
            for (sid, rid), result in found.items():
                answers[subject_type, sid, rid] = result
        per_resource: dict[str, list[CheckResult]] = defaultdict(list)
        for rel in rels:
            answer = answers[rel.subject.type, rel.subject.id, rel.resource.id]
            per_resource[rel.resource.id].append(both(tuple_existence(ctx, rel), answer))
        combine = union_all if node.mode == "any" else intersect_all
        return {rid: combine(per_resource.get(rid, ())) for rid in ids}

    async def expand(self, node: ir.TupleToUserset, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        model = request.ctx.model
        flt = RelationshipFilter(resource_type=request.resource.type, relation=node.tupleset)
        rels = await ops.read(request, flt, [request.resource.id])
        targets = dict.fromkeys(ObjectRef(rel.subject.type, rel.subject.id) for rel in rels)
        children = [
            await ops.expand(request.sub(target, node.computed))
            for target in targets
            if model.has_member(target.type, node.computed)
        ]
        if node.mode == "any":
            return _node(ExpandKind.UNION, request, children)
        if len(children) < len(targets):
            # A subject whose type lacks the target is a non-member: the intersection is empty.
            children.append(_node(ExpandKind.LEAF, request))
        return _node(ExpandKind.INTERSECTION, request, children)

    async def reverse(self, node: ir.TupleToUserset, ops: ReverseOps, resource_type: str) -> set[str]:
        model = ops.model
        relation = model.definition(resource_type).relations.get(node.tupleset)
        if relation is None:
            return set()
        found: set[str] = set()
        for subject_type in dict.fromkeys(a.type for a in relation.allowed):
            if not model.has_member(subject_type, node.computed):
                continue
            members = await ops.members(subject_type, node.computed)
            if members:
                found |= await ops.resources_via(resource_type, node.tupleset, subject_type, members)
        return found

    async def exact(self, node: ir.TupleToUserset, ops: ExactOps, resource_type: str) -> set[str] | None:
        if node.mode != "any":
            return None
        model = ops.model
        relation = model.definition(resource_type).relations.get(node.tupleset)
        if relation is None:
            return set()
        if any(a.caveat is not None for a in relation.allowed):
            return None
        out: set[str] = set()
        for subject_type in dict.fromkeys(a.type for a in relation.allowed):
            if not model.has_member(subject_type, node.computed):
                continue
            members = await ops.exact(subject_type, node.computed)
            if members is None:
                return None
            out |= await ops.resources_via(resource_type, node.tupleset, subject_type, members)
        return out


async def _operands(
    ops: CheckOps,
    request: CheckRequest,
    operands: Sequence[ir.Rewrite],
    ids: list[str],
    *,
    settled: Callable[[CheckResult], bool],
    combine: Callable[[list[CheckResult]], CheckResult],
) -> Results:
    """Combine the operands' answers; an id no longer goes to later operands once ``settled``."""
    collected: dict[str, list[CheckResult]] = {rid: [] for rid in ids}
    pending = list(ids)
    for operand in operands:
        if not pending:
            break
        answers = await check(ops, request, operand, pending)
        for rid in pending:
            collected[rid].append(answers[rid])
        pending = [rid for rid in pending if not settled(answers[rid])]
    return {rid: combine(found) for rid, found in collected.items()}


async def _each(ops: ExactOps, resource_type: str, operands: Iterable[ir.Rewrite]) -> list[set[str]] | None:
    """The exact sets of every operand (all computed first), or ``None`` if one is unsure."""
    parts = [await exact(ops, resource_type, operand) for operand in operands]
    found = [part for part in parts if part is not None]
    return found if len(found) == len(parts) else None


class _Union(Rule[ir.Union]):
    """``a + b + ...``: an id is settled once one operand allows it."""

    kind = ir.Union

    def combine(self, parts: Sequence[Any]) -> Any:
        return reduce(operator.or_, parts)

    def operands(self, node: ir.Union) -> tuple[ir.Rewrite, ...]:
        return node.children

    async def check(self, node: ir.Union, ops: CheckOps, request: CheckRequest, ids: list[str]) -> Results:
        return await _operands(
            ops, request, node.children, ids, settled=attrgetter("allowed"), combine=union_all
        )

    async def expand(self, node: ir.Union, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        return _node(ExpandKind.UNION, request, [await expand(ops, request, c) for c in node.children])

    async def reverse(self, node: ir.Union, ops: ReverseOps, resource_type: str) -> set[str]:
        out: set[str] = set()
        for child in node.children:
            out |= await reverse(ops, resource_type, child)
        return out

    async def exact(self, node: ir.Union, ops: ExactOps, resource_type: str) -> set[str] | None:
        parts = await _each(ops, resource_type, node.children)
        return None if parts is None else set[str]().union(*parts)


class _Intersection(Rule[ir.Intersection]):
    """``a & b & ...``: an id is settled once one operand denies it."""

    kind = ir.Intersection

    def combine(self, parts: Sequence[Any]) -> Any:
        return reduce(operator.and_, parts)

    def operands(self, node: ir.Intersection) -> tuple[ir.Rewrite, ...]:
        return node.children

    def monotone(self, node: ir.Intersection) -> bool:
        return False

    async def check(
        self, node: ir.Intersection, ops: CheckOps, request: CheckRequest, ids: list[str]
    ) -> Results:
        return await _operands(
            ops, request, node.children, ids, settled=attrgetter("is_no"), combine=intersect_all
        )

    async def expand(self, node: ir.Intersection, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        nodes = [await expand(ops, request, c) for c in node.children]
        return _node(ExpandKind.INTERSECTION, request, nodes)

    async def reverse(self, node: ir.Intersection, ops: ReverseOps, resource_type: str) -> set[str]:
        # Every answer is in the first operand's candidates.
        return await reverse(ops, resource_type, node.children[0]) if node.children else set()

    async def exact(self, node: ir.Intersection, ops: ExactOps, resource_type: str) -> set[str] | None:
        parts = await _each(ops, resource_type, node.children)
        if not parts:
            return None
        first, *rest = parts
        return first.intersection(*rest)


class _Exclusion(Rule[ir.Exclusion]):
    """``base - subtract``: base and not subtract; the subtracted side is settled exactly first."""

    kind = ir.Exclusion

    def combine(self, parts: Sequence[Any]) -> Any:
        return reduce(operator.sub, parts)

    def operands(self, node: ir.Exclusion) -> tuple[ir.Rewrite, ...]:
        return (node.base, node.subtract)

    def granting(self, node: ir.Exclusion) -> tuple[ir.Rewrite, ...]:
        return (node.base,)

    def monotone(self, node: ir.Exclusion) -> bool:
        return False

    async def check(
        self, node: ir.Exclusion, ops: CheckOps, request: CheckRequest, ids: list[str]
    ) -> Results:
        base = await check(ops, request, node.base, ids)
        pending = [rid for rid in ids if not base[rid].is_no]
        subtract: Results = {}
        if pending:
            # ``a - b`` is not monotone in ``b``: settle ``b`` exactly, in a scope of its own.
            subtract = await ops.settle(
                request, pending, lambda nested: check(ops, nested, node.subtract, pending)
            )
        return {rid: exclude(base[rid], subtract[rid]) if rid in subtract else base[rid] for rid in ids}

    async def expand(self, node: ir.Exclusion, ops: ExpandOps, request: ExpandRequest) -> ExpandNode:
        nodes = [await expand(ops, request, node.base), await expand(ops, request, node.subtract)]
        return _node(ExpandKind.EXCLUSION, request, nodes)

    async def reverse(self, node: ir.Exclusion, ops: ReverseOps, resource_type: str) -> set[str]:
        return await reverse(ops, resource_type, node.base)

    async def exact(self, node: ir.Exclusion, ops: ExactOps, resource_type: str) -> set[str] | None:
        kept = await exact(ops, resource_type, node.base)
        if not kept:
            return kept
        removed = await exact(ops, resource_type, node.subtract)
        return None if removed is None else kept - removed


RULES: Final[Mapping[type[Any], Rule[Any]]] = MappingProxyType(
    {
        rule.kind: rule
        for rule in (_Nil(), _Self(), _Computed(), _Arrow(), _Union(), _Intersection(), _Exclusion())
    }
)
"""The rule of every rewrite kind, by IR type (read-only; rules are stateless)."""


def rule_for(rewrite: ir.Rewrite) -> Rule[Any]:
    """The rule of ``rewrite``'s kind.

    Raises:
        TypeError: no rule is registered for that kind.
    """
    try:
        return RULES[type(rewrite)]
    except KeyError:
        raise TypeError(f"no rule for the rewrite {rewrite!r}") from None


async def check(ops: CheckOps, request: CheckRequest, rewrite: ir.Rewrite, ids: list[str]) -> Results:
    """Answer ``rewrite`` for every id of ``ids`` with ``ops``' mechanics."""
    return await rule_for(rewrite).check(rewrite, ops, request, ids)


async def expand(ops: ExpandOps, request: ExpandRequest, rewrite: ir.Rewrite) -> ExpandNode:
    """The expand tree of ``rewrite`` (one node of the budget spent for it)."""
    ops.count()
    return await rule_for(rewrite).expand(rewrite, ops, request)


async def reverse(ops: ReverseOps, resource_type: str, rewrite: ir.Rewrite) -> set[str]:
    """Candidate ids of ``resource_type`` that may satisfy ``rewrite``."""
    return await rule_for(rewrite).reverse(rewrite, ops, resource_type)


async def exact(ops: ExactOps, resource_type: str, rewrite: ir.Rewrite) -> set[str] | None:
    """The exact ids of ``resource_type`` satisfying ``rewrite``, or ``None`` if unsure."""
    return await rule_for(rewrite).exact(rewrite, ops, resource_type)


def monotone(rewrite: ir.Rewrite) -> bool:
    """Whether ``rewrite`` and all its operands are monotone (exact under the reverse walk)."""
    rule = rule_for(rewrite)
    return rule.monotone(rewrite) and all(monotone(child) for child in rule.operands(rewrite))


def steps(rewrite: ir.Rewrite, *, granting: bool = False) -> Iterator[Step]:
    """The leaf steps of ``rewrite``, left to right.

    Args:
        rewrite: The rewrite.
        granting: Only the operands that can contribute a grant (an exclusion's base, every
            operand of the others); by default every operand (so a subtracted side is seen too).
    """
    rule = rule_for(rewrite)
    step = rule.step(rewrite)
    if step is not None:
        yield step
    for child in rule.granting(rewrite) if granting else rule.operands(rewrite):
        yield from steps(child, granting=granting)
