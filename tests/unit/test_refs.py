"""The one text syntax: round trips, and typed errors that name the bad part."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebac.errors import RefSyntaxError
from rebac.refs import (
    CaveatRef,
    ObjectRef,
    Relationship,
    SubjectRef,
    format_expiration,
    parse_object,
    parse_relationship,
    parse_subject,
)

segment = st.from_regex(r"[a-z][a-z0-9_]{1,8}[a-z0-9]", fullmatch=True)
type_names = st.builds("/".join, st.lists(segment, min_size=1, max_size=3))
object_ids = st.from_regex(r"[a-zA-Z0-9/_|\-=+]{1,20}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10)
contexts = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=3,
)
subjects = st.one_of(
    st.builds(SubjectRef, type_names, object_ids),
    st.builds(SubjectRef, type_names, object_ids, segment),
    st.builds(lambda t: SubjectRef(t, "*"), type_names),
)
expirations = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis wants naive bounds; tz is added below
    max_value=datetime(2999, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
caveats = st.none() | st.builds(CaveatRef, segment, contexts)
relationships = st.builds(
    Relationship,
    st.builds(ObjectRef, type_names, object_ids),
    segment,
    subjects,
    caveats,
    expirations,
)


@given(relationships)
def test_relationship_text_round_trips(rel: Relationship) -> None:
    assert parse_relationship(str(rel)) == rel
    assert str(parse_relationship(str(rel))) == str(rel)


@given(subjects)
def test_subject_text_round_trips(subject: SubjectRef) -> None:
    assert parse_subject(str(subject)) == subject


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "document:firstdoc#viewer@user:tom",
            Relationship(ObjectRef("document", "firstdoc"), "viewer", SubjectRef("user", "tom")),
        ),
        (
            "tenant/document:a|b#viewer@team:eng#member",
            Relationship(ObjectRef("tenant/document", "a|b"), "viewer", SubjectRef("team", "eng", "member")),
        ),
        (
            "document:1#viewer@user:*",
            Relationship(ObjectRef("document", "1"), "viewer", SubjectRef("user", "*")),
        ),
        (
            "document:1#viewer@user:tom#...",
            Relationship(ObjectRef("document", "1"), "viewer", SubjectRef("user", "tom")),
        ),
        (
            'document:1#viewer@user:tom[ip_ok:{"cidr":"10.0.0.0/8"}][expiration:2300-12-01T00:00:00Z]',
            Relationship(
                ObjectRef("document", "1"),
                "viewer",
                SubjectRef("user", "tom"),
                CaveatRef("ip_ok", {"cidr": "10.0.0.0/8"}),
                datetime(2300, 12, 1, tzinfo=UTC),
            ),
        ),
        (
            "document:1#viewer@user:tom[expiration:2026-01-01T01:00:00+01:00]",
            Relationship(
                ObjectRef("document", "1"),
                "viewer",
                SubjectRef("user", "tom"),
                expires_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
        ),
    ],
)
def test_parses_spicedb_syntax(text: str, expected: Relationship) -> None:
    assert parse_relationship(text) == expected


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("", "relationship"),
        ("document:1#viewer", "relationship"),
        ("document#viewer@user:1", "resource type"),
        ("Document:1#viewer@user:1", "resource type"),
        ("document:#viewer@user:1", "resource id"),
        ("document:a b#viewer@user:1", "resource id"),
        ("document:1@user:1", "relation"),
        ("document:1#Viewer@user:1", "relation"),
        ("document:1#viewer@user", "subject type"),
        ("document:1#viewer@user:", "subject id"),
        ("document:1#viewer@user:*#member", "subject relation"),
        ("document:1#viewer@user:tom#Member", "subject relation"),
        ("document:1#viewer@user:tom[", "caveat"),
        ("document:1#viewer@user:tom[ok:{nope}]", "caveat context"),
        ("document:1#viewer@user:tom[ok:[1]]", "caveat context"),
        ("document:1#viewer@user:tom[Bad]", "caveat name"),
        ("document:1#viewer@user:tom[expiration:tomorrow]", "expiration"),
        ("document:1#viewer@user:tom[expiration:2026-01-01T00:00:00]", "expiration"),
        ("document:1#viewer@user:tom[expiration:2026-01-01T00:00:00Z][ok]", "caveat"),
        ("document:1#viewer@user:tom]", "subject id"),
    ],
)
def test_bad_text_names_the_bad_part(text: str, part: str) -> None:
    with pytest.raises(RefSyntaxError) as info:
        parse_relationship(text)
    assert info.value.part == part
    assert isinstance(info.value, ValueError)


def test_object_parse_rejects_wildcard() -> None:
    with pytest.raises(RefSyntaxError):
        parse_object("user:*")


def test_relationship_identity_ignores_caveat_and_expiry() -> None:
    plain = parse_relationship("document:1#viewer@user:tom")
    caveated = parse_relationship('document:1#viewer@user:tom[c1:{"a":1}][expiration:2030-01-01T00:00:00Z]')
    assert plain.key() == caveated.key()
    assert plain != caveated


def test_expiry_is_compared_with_now() -> None:
    rel = parse_relationship("document:1#viewer@user:tom[expiration:2030-01-01T00:00:00Z]")
    assert not rel.is_expired(datetime(2029, 12, 31, tzinfo=UTC))
    assert rel.is_expired(datetime(2030, 1, 1, tzinfo=UTC))


def test_expiration_formats_in_utc() -> None:
    assert format_expiration(datetime(2030, 1, 1, 12, tzinfo=UTC)) == "2030-01-01T12:00:00Z"
