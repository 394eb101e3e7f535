"""Parsing at the edge: DTOs into refs and store values, through the one text syntax."""

from __future__ import annotations

import pytest

from rebac.api import convert, dto
from rebac.errors import InvalidInputError, InvalidTokenError, RefSyntaxError
from rebac.refs import parse_relationship
from rebac.store.base import ANY_RELATION, ConsistencyMode, Operation


def _ref(type_: str, id_: str) -> dto.ObjectReference:
    return dto.ObjectReference(object_type=type_, object_id=id_)


def _rel(**kwargs: object) -> dto.Relationship:
    base: dict[str, object] = {
        "resource": _ref("document", "d1"),
        "relation": "viewer",
        "subject": dto.SubjectReference(object=_ref("team", "eng"), optional_relation="member"),
    }
    base.update(kwargs)
    return dto.Relationship(**base)  # type: ignore[arg-type]


def test_relationship_round_trips_through_the_text_syntax() -> None:
    rel = convert.relationship_of(
        _rel(
            optional_caveat=dto.ContextualizedCaveat(caveat_name="ip_ok", context={"cidr": "10.0.0.0/8"}),
            optional_expires_at="2030-01-01T00:00:00Z",
        )
    )
    assert rel == parse_relationship(str(rel))
    assert (
        str(rel)
        == 'document:d1#viewer@team:eng#member[ip_ok:{"cidr":"10.0.0.0/8"}][expiration:2030-01-01T00:00:00Z]'
    )
    assert convert.relationship_of(convert.relationship_dto(rel)) == rel


@pytest.mark.parametrize(
    "bad",
    [
        {"resource": _ref("Document", "d1")},
        {"resource": _ref("document", "")},
        {"resource": _ref("document", "*")},  # a wildcard is no object
        {"relation": ""},
        {"relation": "View"},
        {"optional_caveat": dto.ContextualizedCaveat(caveat_name="Bad-Name")},
        {"optional_expires_at": "tomorrow"},
        {"optional_expires_at": "2030-01-01T00:00:00"},
    ],
)
def test_malformed_relationships_name_the_part(bad: dict[str, object]) -> None:
    with pytest.raises(RefSyntaxError) as info:
        convert.relationship_of(_rel(**bad))
    assert info.value.part


def test_consistency_modes() -> None:
    assert convert.consistency_of(None).mode is ConsistencyMode.MINIMIZE_LATENCY
    assert (
        convert.consistency_of(dto.Consistency(fully_consistent=True)).mode
        is ConsistencyMode.FULLY_CONSISTENT
    )
    fresh = convert.consistency_of(dto.Consistency(at_least_as_fresh=dto.ZedToken("t")))
    assert (fresh.mode, fresh.token) == (ConsistencyMode.AT_LEAST_AS_FRESH, "t")
    with pytest.raises(InvalidInputError):
        convert.consistency_of(dto.Consistency(fully_consistent=True, at_exact_snapshot=dto.ZedToken("t")))
    with pytest.raises(InvalidTokenError):
        convert.consistency_of(dto.Consistency(at_least_as_fresh=dto.ZedToken("")))


def test_filters() -> None:
    flt = convert.filter_of(
        dto.RelationshipFilter(
            resource_type="document",
            optional_resource_id="d1",
            optional_subject_filter=dto.SubjectFilter(
                subject_type="team", optional_relation=dto.RelationFilter()
            ),
        )
    )
    assert flt.resource_ids == ("d1",)
    assert flt.subject_type == "team"
    assert flt.subject_relation is None  # an empty relation filter means plain subjects (SpiceDB's ellipsis)
    assert (
        convert.filter_of(dto.RelationshipFilter(resource_type="document")).subject_relation is ANY_RELATION
    )
    with pytest.raises(InvalidInputError):
        convert.filter_of(dto.RelationshipFilter())
    with pytest.raises(RefSyntaxError):
        convert.filter_of(dto.RelationshipFilter(resource_type="Doc"))


def test_updates_keep_their_operation() -> None:
    updates = convert.updates_of(
        [
            dto.RelationshipUpdate(operation="OPERATION_CREATE", relationship=_rel()),
            dto.RelationshipUpdate(operation="OPERATION_DELETE", relationship=_rel()),
        ]
    )
    assert [u.operation for u in updates] == [Operation.CREATE, Operation.DELETE]
    assert convert.operation_name(Operation.TOUCH) == "OPERATION_TOUCH"
