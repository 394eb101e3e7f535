"""The engine's view of a schema: lookups with typed errors and type-graph pruning."""

from __future__ import annotations

import pytest

from rebac.errors import UnknownRelationError, UnknownTypeError
from rebac.schema import TypeSystem, compile_schema, ir

SCHEMA = """
use self

definition user {}

definition agent {
    relation principal: user | agent
    relation owner: user
    acts_for principal
}

definition team {
    relation member: user | agent | team#member
}

definition folder {
    relation parent: folder
    relation viewer: user | team#member
    permission view = viewer + parent->view
}

definition document {
    relation parent: folder
    relation owner: user
    relation public: user:*
    relation banned: agent
    permission edit = owner
    permission view = (edit + parent->view + public) - banned
    permission only_owner = owner & edit
}

definition robot {
    relation friend: robot
    permission myself = self + friend
}
"""


@pytest.fixture(name="types")
def types_fixture() -> TypeSystem:
    return TypeSystem(compile_schema(SCHEMA))


def test_lookups(types: TypeSystem) -> None:
    assert types.definition("document").name == "document"
    assert isinstance(types.member("document", "owner"), ir.Relation)
    assert isinstance(types.member("document", "view"), ir.Permission)
    assert types.is_permission("document", "view")
    assert not types.is_permission("document", "owner")
    assert types.delegation_relation("agent") == "principal"
    assert types.delegation_relation("user") is None
    assert types.schema.definitions["agent"].acts_for == "principal"


def test_unknown_names_raise_typed_errors(types: TypeSystem) -> None:
    with pytest.raises(UnknownTypeError):
        types.definition("nope")
    with pytest.raises(UnknownTypeError):
        types.member("nope", "view")
    with pytest.raises(UnknownRelationError):
        types.member("document", "nope")
    with pytest.raises(UnknownRelationError):
        types.is_permission("document", "nope")
    with pytest.raises(UnknownRelationError):
        types.may_reach("document", "nope", "user", None)


@pytest.mark.parametrize(
    "case",
    [
        ("document", "view", "user", None, True),  # owner, public, folder viewers
        ("document", "view", "agent", None, True),  # through team#member on the folder
        ("document", "view", "team", "member", True),  # a subject set stored on folder#viewer
        ("document", "view", "team", None, False),  # plain teams are never stored anywhere on the path
        ("document", "view", "robot", None, False),
        ("document", "edit", "agent", None, False),  # banned agents are only subtracted
        ("document", "only_owner", "user", None, True),
        ("folder", "view", "folder", None, False),  # parent is walked, never returned
        ("folder", "view", "folder", "view", True),  # trivially: the same userset
        ("team", "member", "team", "member", True),
        ("team", "member", "agent", None, True),
        ("robot", "myself", "robot", None, True),  # self
        ("robot", "myself", "user", None, False),
        ("agent", "principal", "agent", None, True),
        ("document", "view", "ghost", None, False),  # unknown subject types can never match
    ],
)
def test_may_reach(types: TypeSystem, case: tuple[str, str, str, str | None, bool]) -> None:
    resource, relation, subject, subject_relation, expected = case
    assert types.may_reach(resource, relation, subject, subject_relation) is expected
    # cached answers agree with fresh ones
    assert types.may_reach(resource, relation, subject, subject_relation) is expected


def test_may_reach_is_conservative_on_every_conformance_shape() -> None:
    """For each relation, every allowed subject kind is reported reachable."""
    types = TypeSystem(compile_schema(SCHEMA))
    for definition in types.schema.definitions.values():
        for relation in definition.relations.values():
            for allowed in relation.allowed:
                assert types.may_reach(definition.name, relation.name, allowed.type, allowed.relation)
