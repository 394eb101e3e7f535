"""The one text syntax: round trips, and typed errors that name the bad part."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebac.errors import RefSyntaxError
from rebac.refs import (
    ID_RE,
    MAX_FREE_ID_BYTES,
    CaveatRef,
    ObjectRef,
    Relationship,
    SubjectRef,
    decode_id,
    encode_id,
    external,
    format_expiration,
    parse_object,
    parse_relationship,
    parse_subject,
    stored,
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


# --- free ids: the quoted text form and the one codec ----------------------------------------------

FREE = [
    "rick@the-citadel.com",
    "https://example.test/a/b?c=1#frag@x[y]",
    "mcp.tools.search",
    "ünïcödé 名前 🚀",
    '"quoted" \\ and ] [ # @ :',
    "=x",
    "=",
    "=cmlja0B0aGUtY2l0YWRlbC5jb20",
]
free_ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@pytest.mark.parametrize("id_", FREE)
def test_free_ids_are_written_quoted_and_round_trip(id_: str) -> None:
    rel = Relationship(ObjectRef("doc", id_), "viewer", SubjectRef("user", id_, "member"))
    text = str(rel)
    assert text.startswith('doc:"')
    assert parse_relationship(text) == rel
    assert parse_object(str(rel.resource)) == rel.resource
    assert parse_subject(str(rel.subject)) == rel.subject


@given(free_ids, free_ids)
def test_any_id_round_trips_through_the_text(resource_id: str, subject_id: str) -> None:
    rel = Relationship(ObjectRef("doc", resource_id), "viewer", SubjectRef("user", subject_id))
    if subject_id == "*":
        return  # the wildcard
    assert parse_relationship(str(rel)) == rel


def test_plain_ids_stay_unquoted_and_stored_as_they_are() -> None:
    for id_ in ("tom", "a-b_c|d/e+f", "x=y", "7240d0db-8ff0-41ec"):
        assert str(ObjectRef("doc", id_)) == f"doc:{id_}"
        assert encode_id(id_) == id_
        assert decode_id(id_) == id_
    assert parse_subject('user:"tom"') == parse_subject("user:tom")  # quoting a plain id is allowed


@given(free_ids)
def test_the_codec_is_one_to_one_and_reversible(id_: str) -> None:
    stored_id = encode_id(id_)
    assert ID_RE.fullmatch(stored_id)
    assert decode_id(stored_id) == id_
    if id_.startswith("=") or not ID_RE.fullmatch(id_):
        assert stored_id.startswith("=")
        assert stored_id != id_


def test_an_id_starting_with_escape_is_always_encoded() -> None:
    rick = encode_id("rick@the-citadel.com")
    assert rick == "=cmlja0B0aGUtY2l0YWRlbC5jb20"
    assert encode_id(rick) != rick  # naming the stored form does not reach rick
    assert decode_id(encode_id(rick)) == rick
    assert decode_id("=not-base64!") == "=not-base64!"  # a hand-written stored id is its own
    assert decode_id("=YQ") == "=YQ"  # "a" is stored as "a", so "=YQ" is not its encoding


def test_stored_and_external_map_references() -> None:
    rel = parse_relationship('doc:"https://x.test/1"#viewer@user:"rick@the-citadel.com"')
    inside = stored(rel)
    assert inside.resource.id == encode_id("https://x.test/1")
    assert inside.subject.id == "=cmlja0B0aGUtY2l0YWRlbC5jb20"
    assert external(inside) == rel
    assert stored(SubjectRef("user", "*")) == SubjectRef("user", "*")


def test_the_length_limit() -> None:
    assert MAX_FREE_ID_BYTES == 767
    longest = "@" * MAX_FREE_ID_BYTES
    assert len(encode_id(longest)) <= 1024
    with pytest.raises(RefSyntaxError, match="767"):
        encode_id(longest + "@")
    with pytest.raises(RefSyntaxError, match="767"):
        parse_object(f'doc:"{longest}@"')
    with pytest.raises(RefSyntaxError):
        encode_id("")


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ('doc:""', "object id"),
        ('doc:"x', "object id"),
        ('doc:"x"y', "object id"),
        ('doc:"\\ud800"', "object id"),
    ],
)
def test_bad_quoted_ids_name_the_part(text: str, part: str) -> None:
    with pytest.raises(RefSyntaxError) as info:
        parse_object(text)
    assert info.value.part == part
