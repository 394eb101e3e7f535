"""The delegation chain of an AuthZEN request, in any of its four forms, as rebac's ``via``.

rebac checks the *acting* identity (the agent that makes the call) with ``via``: its claimed
principals, nearest first, ending at the human. AuthZEN requests carry that chain in one of these
forms; when more than one is present, the first in this list is used and the others are ignored
(the response's ``context.chain.form`` names the one used):

1. ``context.act`` (or ``subject.properties.act``): an RFC 8693 nested ``act`` claim. The request's
   subject is the token's ``sub`` (the human); the outermost ``act`` is the acting agent and each
   nested ``act`` is an earlier actor, so the chain is ``[act.act..., subject]`` above ``act``.
2. ``context.delegation_chain``: a list of actors from the one nearest the subject to the acting
   one (the last entry acts); the subject is the root principal.
3. ``context.agent`` (COAZ-MCP): the agent (the OAuth ``client_id``) acting for the subject.
4. ``subject.properties.via``: the subject itself is the acting identity and ``via`` its chain,
   nearest principal first (rebac's own form).

An actor is ``"type:id"``, a bare id (of type :data:`DEFAULT_AGENT_TYPE`), ``{"type", "id"}``, or
in an ``act`` claim ``{"sub": ...}`` with ``sub`` in either string form. Ids are free strings,
mapped as :mod:`rebac.api.controllers.authzen_ids` says. The engine then verifies the chain
against the recorded principal edges: a sub-agent never gets more than every link above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from rebac.api.controllers.authzen_ids import encode_id
from rebac.api.dto import authzen as az
from rebac.errors import InvalidInputError
from rebac.refs import SubjectRef

__all__ = ["DEFAULT_AGENT_TYPE", "Chain", "chain_of"]

DEFAULT_AGENT_TYPE: Final = "agent"
"""The type of an actor given as a bare id (a COAZ ``client_id``, an ``act.sub``)."""
_MAX_ACTORS: Final = 64
"""Most actors one request may name (the engine caps the hops at ``max_delegation_hops``)."""


@dataclass(frozen=True, slots=True)
class Chain:
    """The identity to check and the chain above it.

    Attributes:
        actor: The acting identity (the checked subject).
        via: Its claimed principals, nearest first (``None`` when no chain was given).
        form: Which request member carried the chain (``None`` for none).
    """

    actor: SubjectRef
    via: tuple[SubjectRef, ...] | None
    form: str | None


def entity_ref(type_: str, id_: str, *, what: str) -> SubjectRef:
    """The reference of an AuthZEN ``{type, id}`` (the id mapped to the id grammar)."""
    if not type_:
        raise InvalidInputError(f"{what}.type must be a non-empty string")
    return SubjectRef(type_, encode_id(id_, what=f"{what}.id"))


def _actor(raw: object, what: str) -> SubjectRef:
    if isinstance(raw, str):
        type_, sep, id_ = raw.partition(":")
        if sep and type_ and id_ and not id_.startswith("/") and "@" not in type_:
            return entity_ref(type_, id_, what=what)
        return entity_ref(DEFAULT_AGENT_TYPE, raw, what=what)
    if isinstance(raw, dict):
        if isinstance(raw.get("type"), str) and isinstance(raw.get("id"), str):
            return entity_ref(raw["type"], raw["id"], what=what)
        if "sub" in raw:
            return _actor(raw["sub"], f"{what}.sub")
    raise InvalidInputError(f'{what} must be "type:id", an id, {{"type", "id"}} or {{"sub"}}')


def _act_chain(claim: object) -> list[SubjectRef]:
    """Actors of a nested ``act`` claim, outermost (the acting one) first."""
    actors: list[SubjectRef] = []
    node = claim
    while node is not None:
        if not isinstance(node, dict) or "sub" not in node:
            raise InvalidInputError('an "act" claim is an object with "sub" (and an optional nested "act")')
        actors.append(_actor(node["sub"], "act.sub"))
        if len(actors) > _MAX_ACTORS:
            raise InvalidInputError(f"an act chain names at most {_MAX_ACTORS} actors")
        node = node.get("act")
    return actors


def _list(raw: object, what: str) -> list[SubjectRef]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"{what} must be a non-empty list")
    if len(raw) > _MAX_ACTORS:
        raise InvalidInputError(f"{what} names at most {_MAX_ACTORS} actors")
    return [_actor(entry, f"{what}[{i}]") for i, entry in enumerate(raw)]


def _above(subject: SubjectRef, actors: list[SubjectRef]) -> Chain | None:
    """``actors`` acting one after another for ``subject``, the last one acting."""
    chain = [subject, *actors]
    acting = chain[-1]
    via = tuple(reversed(chain[:-1]))
    if not via or acting == subject:
        return None
    return Chain(acting, via, None)


def chain_of(subject: az.Entity, context: dict[str, Any] | None) -> Chain:
    """The identity to check and its chain (see the module docstring for the precedence).

    Raises:
        InvalidInputError: a malformed chain member (an error, never a decision).
    """
    base = entity_ref(subject.type, subject.id, what="subject")
    ctx = context or {}
    props = subject.properties or {}
    act = ctx.get("act", props.get("act"))
    if act is not None:
        found = _above(base, list(reversed(_act_chain(act))))
        return Chain(found.actor, found.via, "act") if found else Chain(base, None, None)
    if ctx.get("delegation_chain") is not None:
        found = _above(base, _list(ctx["delegation_chain"], "context.delegation_chain"))
        return Chain(found.actor, found.via, "delegation_chain") if found else Chain(base, None, None)
    if ctx.get("agent") is not None:
        found = _above(base, [_actor(ctx["agent"], "context.agent")])
        return Chain(found.actor, found.via, "agent") if found else Chain(base, None, None)
    if props.get("via") is not None:
        return Chain(base, tuple(_list(props["via"], "subject.properties.via")), "via")
    return Chain(base, None, None)
