"""One AuthZEN evaluation: request members to a rebac check, and its result to a Decision.

- Ids are free strings (:mod:`~rebac.api.controllers.authzen_ids`); ``action.name`` is the
  permission.
- The request's entities reach caveats: a caveat may declare the parameters ``subject``,
  ``resource`` and ``action`` (type ``map<any>``) and read ``resource.properties.ownerID``,
  ``subject.id`` or ``action.properties.soft``. Each is the entity as sent (its AuthZEN id, not
  the mapped one). A ``context`` member of the same name wins over the entity.
- An unknown subject type, resource type or action is a deny (``200 {"decision": false}``) whose
  context names the reason (``unknown_type``, ``unknown_action``); it is never an error a client
  could mistake for an allow.
- A delegation chain (:mod:`~rebac.api.controllers.authzen_chain`) is verified by the engine; the
  response's ``context.chain`` lists each hop's own result.
"""

from __future__ import annotations

from typing import Any

from rebac import errors
from rebac.api.controllers.authzen_chain import Chain, chain_of
from rebac.api.controllers.authzen_ids import decode_id, encode_id
from rebac.api.dto import authzen as az
from rebac.api.problems import problem_for
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.checks import decision_id_of
from rebac.services.core import Services
from rebac.services.types import CheckResult, Current, Hop, HopReason, Permissionship, Revision

__all__ = [
    "caveat_context",
    "error_decision",
    "evaluate",
    "resource_ref",
    "settle",
    "unknown_reason",
    "with_id",
]


def resource_ref(entity: az.Entity | az.SearchEntity, id_: str) -> ObjectRef:
    """The resource's reference (its id mapped to the id grammar)."""
    if not entity.type:
        raise errors.InvalidInputError("resource.type must be a non-empty string")
    return ObjectRef(entity.type, encode_id(id_, what="resource.id"))


def _entity(entity: az.Entity | az.SearchEntity) -> dict[str, Any] | None:
    if entity.id is None:
        return None  # the searched-for entity: each candidate is settled with its own id
    return {"type": entity.type, "id": entity.id, "properties": entity.properties or {}}


def caveat_context(
    context: dict[str, Any] | None,
    subject: az.Entity | az.SearchEntity | None,
    resource: az.Entity | az.SearchEntity | None,
    action: az.Action | None,
) -> dict[str, Any]:
    """The caveat context of a request: ``context`` over the request's own entities.

    An entity without an id (the one a search looks for) is left out, so a caveat that reads it is
    conditional in the lookup; :func:`settle` then checks each such candidate with its own id.
    """
    base: dict[str, Any] = {}
    for name, entity in (("subject", subject), ("resource", resource)):
        found = _entity(entity) if entity is not None else None
        if found is not None:
            base[name] = found
    if action is not None:
        base["action"] = {"name": action.name, "properties": action.properties or {}}
    return {**base, **(context or {})}


async def settle(  # noqa: PLR0917 - a check's members, positionally as in the spec
    current: Current,
    revision: Revision,
    subject: az.Entity | az.SearchEntity,
    resource: az.Entity | az.SearchEntity,
    action: az.Action,
    context: dict[str, Any] | None,
) -> bool:
    """Whether a search candidate (``subject`` and ``resource`` both with ids) is allowed outright.

    A lookup answers *conditional* for a candidate when a caveat reads the searched-for entity
    (``subject.id`` in a subject search); this checks the candidate with its own entity. It is not
    a decision, so it is not recorded.
    """
    if subject.id is None or resource.id is None:
        return False
    result = await current.engine.check(
        resource_ref(resource, resource.id),
        action.name,
        SubjectRef(subject.type, encode_id(subject.id, what="subject.id")),
        revision=revision,
        context=caveat_context(context, subject, resource, action),
    )
    return result.permissionship is Permissionship.HAS_PERMISSION


def _hop(hop: Hop) -> dict[str, Any]:
    return {
        "type": hop.subject.type,
        "id": decode_id(hop.subject.id),
        "depth": hop.depth,
        "decision": hop.permissionship is Permissionship.HAS_PERMISSION,
        "reason": hop.reason.value,
    }


def _decision(result: CheckResult, chain: Chain) -> az.Decision:
    context: dict[str, Any] = {}
    if chain.form is not None:
        context["chain"] = {"form": chain.form, "hops": [_hop(h) for h in result.delegation]}
    if result.permissionship is Permissionship.HAS_PERMISSION:
        return az.Decision(decision=True, context=context or None)
    hop = result.failed_hop
    if hop is not None and (hop.depth > 0 or hop.reason is not HopReason.DENIED):
        # the subject's own grants sufficed or were not the point: a link of its chain failed
        failed = {"type": hop.subject.type, "id": decode_id(hop.subject.id), "reason": hop.reason.value}
        context |= {"reason": "delegation", "failed_hop": failed}
    elif result.permissionship is Permissionship.CONDITIONAL:
        context |= {"reason": "conditional", "missing_context": sorted(result.missing)}
    return az.Decision(decision=False, context=context or None)


def unknown_reason(exc: errors.NotFoundError) -> dict[str, Any]:
    """The deny context of an unknown type or action."""
    kind = "unknown_type" if isinstance(exc, errors.UnknownTypeError) else "unknown_action"
    return {"reason": kind, "message": str(exc)}


def error_decision(exc: Exception) -> az.Decision:
    """The fail-closed decision of an item that could not be evaluated (``context.error``)."""
    problem = problem_for(exc)
    return az.Decision(
        decision=False,
        context={
            "error": {"status": problem.kind.status, "message": problem.detail, "type": problem.kind.type}
        },
    )


def with_id(decision: az.Decision, decision_id: str | None) -> az.Decision:
    """``decision`` with its decision-log id in ``context.decision_id`` (when recorded)."""
    if decision_id is None:
        return decision
    return az.Decision(
        decision=decision.decision, context={**(decision.context or {}), "decision_id": decision_id}
    )


async def evaluate(  # noqa: PLR0917 - the four AuthZEN members, positionally as in the spec
    current: Current,
    revision: Revision,
    subject: az.Entity,
    resource: az.Entity,
    action: az.Action,
    context: dict[str, Any] | None,
    *,
    services: Services,
    caller: str | None,
    source: str = "authzen",
) -> az.Decision:
    """One evaluation at ``revision``, recorded in the decision log (with ``source``).

    Raises:
        RebacError: a malformed request or an engine error (never a decision; the caller reports
            it as an error, or as a failed item of a batch).
    """
    if not action.name:
        raise errors.InvalidInputError("action.name must be a non-empty string")
    chain = chain_of(subject, context)
    target = resource_ref(resource, resource.id)
    try:
        decision = await services.checks.decide(
            current,
            caller,
            source,
            revision,
            (target, action.name, chain.actor),
            context=caveat_context(context, subject, resource, action),
            via=chain.via,
        )
    except (errors.UnknownTypeError, errors.UnknownRelationError) as exc:
        return with_id(az.Decision(decision=False, context=unknown_reason(exc)), decision_id_of(exc))
    answer = with_id(_decision(decision.result, chain), decision.decision_id)
    if not answer.decision and "reason" not in (answer.context or {}):
        hint = services.requests.denial_hint(current, target.type, decision.decision_id)
        if hint is not None:
            answer = az.Decision(decision=False, context={**(answer.context or {}), **hint})
    return answer
