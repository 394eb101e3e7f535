"""Does a relationship conform to a schema? And which stored relationships would a new schema orphan?

Used on every relationship write (a write that names an unknown type, a permission, or a subject
the relation does not allow is refused) and before every schema write (a schema that would leave
stored relationships non-conforming is refused unless forced). SpiceDB's rules: a relationship must
match one allowed-subject entry exactly, including its caveat and its expiration trait, and its
caveat context may only set declared parameters, each with a value of the declared type
(:mod:`rebac.schema.caveat_values`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rebac.refs import Relationship
from rebac.schema import ir
from rebac.schema.caveat_values import value_problem

__all__ = ["AffectedRelation", "affected_relations", "nonconformity"]


def _matches(entry: ir.AllowedSubject, rel: Relationship) -> bool:
    subject = rel.subject
    if entry.type != subject.type:
        return False
    if subject.is_wildcard:
        if not entry.wildcard:
            return False
    elif entry.wildcard or entry.relation != subject.relation:
        return False
    caveat = rel.caveat.name if rel.caveat is not None else None
    if entry.caveat != caveat:
        return False
    return entry.expiration == (rel.expires_at is not None)


def _describe_subject(rel: Relationship) -> str:
    text = str(rel.subject)
    traits = []
    if rel.caveat is not None:
        traits.append(f"caveat {rel.caveat.name!r}")
    if rel.expires_at is not None:
        traits.append("an expiration")
    if traits:
        text += " with " + " and ".join(traits)
    return text


def nonconformity(schema: ir.Schema, rel: Relationship) -> str | None:
    """Why ``rel`` may not be stored under ``schema``, or ``None`` when it may.

    Args:
        schema: The compiled schema.
        rel: The relationship to check.

    Returns:
        A message for a person naming the offending part, or ``None``.
    """
    definition = schema.definition(rel.resource.type)
    if definition is None:
        return f"object type {rel.resource.type!r} is not defined"
    if rel.relation in definition.permissions:
        return f"{rel.resource.type}#{rel.relation} is a permission; relationships name relations"
    relation = definition.relations.get(rel.relation)
    if relation is None:
        return f"relation {rel.relation!r} is not defined on {rel.resource.type!r}"
    if schema.definition(rel.subject.type) is None:
        return f"subject type {rel.subject.type!r} is not defined"
    if rel.caveat is not None:
        caveat = schema.caveats.get(rel.caveat.name)
        if caveat is None:
            return f"caveat {rel.caveat.name!r} is not defined"
        unknown = sorted(set(rel.caveat.context) - set(caveat.parameters))
        if unknown:
            return f"caveat {rel.caveat.name!r} has no parameter(s) {', '.join(unknown)}"
        for name in sorted(rel.caveat.context):
            problem = value_problem(rel.caveat.context[name], caveat.parameters[name], name)
            if problem is not None:
                return f"caveat {rel.caveat.name!r}: {problem}"
    if any(_matches(entry, rel) for entry in relation.allowed):
        return None
    allowed = " | ".join(str(entry) for entry in relation.allowed) or "nothing"
    return (
        f"subject {_describe_subject(rel)} is not allowed on {rel.resource.type}#{rel.relation} "
        f"(allowed: {allowed})"
    )


@dataclass(frozen=True, slots=True)
class AffectedRelation:
    """A stored (resource type, relation) pair whose relationships a schema change may orphan.

    ``relation`` is ``None`` when the whole type was removed.
    """

    resource_type: str
    relation: str | None


def affected_relations(old: ir.Schema, new: ir.Schema) -> list[AffectedRelation]:
    """Pairs whose stored relationships must be re-checked when ``old`` is replaced by ``new``.

    A pair is affected when its type or relation disappears, when a relation becomes a permission,
    or when its allowed-subject list changes in any way (narrowing subject types, caveats or
    expiration). Every relationship of an affected pair is then checked with :func:`nonconformity`.
    Caveats that change parameters are covered too: every relation using the caveat is affected.
    """
    changed_caveats = {
        name
        for name, caveat in old.caveats.items()
        if name not in new.caveats or dict(new.caveats[name].parameters) != dict(caveat.parameters)
    }
    affected: list[AffectedRelation] = []
    for type_name, definition in old.definitions.items():
        new_definition = new.definition(type_name)
        if new_definition is None:
            affected.append(AffectedRelation(type_name, None))
            continue
        for name, relation in definition.relations.items():
            new_relation = new_definition.relations.get(name)
            if (
                new_relation is None
                or new_relation.allowed != relation.allowed
                or any(entry.caveat in changed_caveats for entry in relation.allowed)
            ):
                affected.append(AffectedRelation(type_name, name))
    return affected
