"""RelationshipIndex: answers only inside its revision window, and exactly like the table there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rebac.refs import Relationship, parse_relationship
from rebac.store.base import Operation, RelationshipFilter
from rebac.store.postgres._index import ChangeRow, RelationshipIndex, SnapshotRow

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DOC = RelationshipFilter(resource_type="doc", resource_ids=("1",))
ALICE = RelationshipFilter(subject_type="user", subject_ids=("alice",))


def change(rev: int, op: Operation, text: str) -> ChangeRow:
    """A change-log row as ``changes_stmt`` returns it."""
    rel = parse_relationship(text)
    caveat = rel.caveat
    return (
        rev,
        op.value,
        *rel.key(),
        caveat.name if caveat else None,
        caveat.context if caveat else None,
        rel.expires_at,
        NOW,
    )


def snapshot_row(text: str, revision: int) -> SnapshotRow:
    rel = parse_relationship(text)
    caveat = rel.caveat
    return (
        *rel.key(),
        caveat.name if caveat else None,
        caveat.context if caveat else None,
        rel.expires_at,
        revision,
    )


def loaded(*texts: str, revision: int = 1) -> RelationshipIndex:
    index = RelationshipIndex()
    index.add_snapshot_rows([snapshot_row(t, revision) for t in texts])
    index.finish_load(revision)
    return index


def texts(found: list[Relationship] | None) -> list[str] | None:
    return None if found is None else [str(rel) for rel in found]


def test_an_index_answers_nothing_before_it_is_loaded() -> None:
    index = RelationshipIndex()
    assert not index.covers(0)
    assert index.select(DOC, 0, NOW) is None


def test_reads_are_answered_only_inside_floor_to_applied() -> None:
    index = loaded("doc:1#viewer@user:alice", revision=5)
    assert texts(index.select(DOC, 5, NOW)) == ["doc:1#viewer@user:alice"]
    assert index.select(DOC, 4, NOW) is None  # below the snapshot: the database answers
    assert index.select(DOC, 6, NOW) is None  # not applied yet: the database answers


def test_filters_without_ids_are_not_served() -> None:
    index = loaded("doc:1#viewer@user:alice")
    assert index.select(RelationshipFilter(resource_type="doc", relation="viewer"), 1, NOW) is None
    assert index.select(RelationshipFilter(), 1, NOW) is None


def test_touch_and_delete_are_versioned() -> None:
    index = loaded("doc:1#viewer@user:alice", "doc:1#viewer@user:bob")
    index.apply_rows(
        [
            change(2, Operation.DELETE, "doc:1#viewer@user:bob"),
            change(3, Operation.TOUCH, 'doc:1#viewer@user:alice[only_on:{"day":1}]'),
            change(3, Operation.TOUCH, "doc:1#editor@user:carol"),
        ],
    )
    index.advance(4)
    assert index.applied == 4
    assert texts(index.select(DOC, 1, NOW)) == ["doc:1#viewer@user:alice", "doc:1#viewer@user:bob"]
    assert texts(index.select(DOC, 2, NOW)) == ["doc:1#viewer@user:alice"]
    assert texts(index.select(DOC, 4, NOW)) == [
        "doc:1#editor@user:carol",
        'doc:1#viewer@user:alice[only_on:{"day":1}]',
    ]
    assert texts(index.select(ALICE, 4, NOW)) == ['doc:1#viewer@user:alice[only_on:{"day":1}]']
    assert index.dead == 2


def test_results_are_in_key_order_and_match_every_filter_field() -> None:
    index = loaded(
        "doc:2#viewer@user:alice",
        "doc:1#viewer@team:eng#member",
        "doc:1#viewer@user:alice",
        "doc:1#owner@user:alice",
    )
    both = RelationshipFilter(resource_type="doc", resource_ids=("2", "1"), relation="viewer")
    assert texts(index.select(both, 1, NOW)) == [
        "doc:1#viewer@team:eng#member",
        "doc:1#viewer@user:alice",
        "doc:2#viewer@user:alice",
    ]
    plain = RelationshipFilter(resource_type="doc", resource_ids=("1",), subject_relation=None)
    assert texts(index.select(plain, 1, NOW)) == ["doc:1#owner@user:alice", "doc:1#viewer@user:alice"]
    usersets = RelationshipFilter(subject_type="team", subject_ids=("eng",), subject_relation="member")
    assert texts(index.select(usersets, 1, NOW)) == ["doc:1#viewer@team:eng#member"]


def test_expired_rows_are_never_returned() -> None:
    soon = (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    index = loaded(f"doc:1#viewer@user:alice[expiration:{soon}]")
    assert len(index.select(DOC, 1, NOW) or []) == 1
    assert index.select(DOC, 1, NOW + timedelta(minutes=1)) == []


def test_prune_forgets_old_versions_and_raises_the_floor() -> None:
    index = loaded("doc:1#viewer@user:alice", "doc:1#viewer@user:bob")
    index.apply_rows([change(2, Operation.DELETE, "doc:1#viewer@user:bob")])
    index.advance(3)
    assert index.rows == 2
    dropped = index.prune(2)
    assert dropped == 1
    assert index.floor == 2
    assert index.rows == 1
    assert index.dead == 0
    assert index.select(DOC, 1, NOW) is None  # below the new floor
    assert texts(index.select(DOC, 3, NOW)) == ["doc:1#viewer@user:alice"]


def test_prune_never_moves_the_floor_past_what_was_applied() -> None:
    index = loaded("doc:1#viewer@user:alice")
    index.prune(100)
    assert index.floor == 1
    assert texts(index.select(DOC, 1, NOW)) == ["doc:1#viewer@user:alice"]


def test_a_delete_of_a_missing_row_is_harmless() -> None:
    index = loaded("doc:1#viewer@user:alice")
    index.apply_rows([change(2, Operation.DELETE, "doc:1#viewer@user:zed")])
    index.advance(2)
    assert texts(index.select(DOC, 2, NOW)) == ["doc:1#viewer@user:alice"]


def test_a_filter_with_both_ids_scans_the_smaller_side_with_the_same_answer() -> None:
    members = [f"org:big#member@user:u{i}" for i in range(50)]
    index = loaded(*members, "org:big#admin@user:u7", "doc:1#viewer@user:u7")
    both = RelationshipFilter(
        resource_type="org", resource_ids=("big",), relation="admin", subject_type="user", subject_ids=("u7",)
    )
    assert texts(index.select(both, 1, NOW)) == ["org:big#admin@user:u7"]
    many = RelationshipFilter(
        resource_type="doc", resource_ids=("1",), subject_type="user", subject_ids=("u7", "u8", "u9")
    )
    assert texts(index.select(many, 1, NOW)) == ["doc:1#viewer@user:u7"]


def test_a_touch_that_replaced_a_row_is_one_new_version() -> None:
    index = loaded("doc:1#viewer@user:alice")
    # The log shows a replacing TOUCH as the new row's TOUCH and the old row's DELETE, adjacent.
    index.apply_rows(
        [
            change(2, Operation.TOUCH, 'doc:1#viewer@user:alice[only_on:{"day":2}]'),
            change(2, Operation.DELETE, "doc:1#viewer@user:alice"),
        ],
    )
    index.advance(2)
    assert texts(index.select(DOC, 1, NOW)) == ["doc:1#viewer@user:alice"]
    assert texts(index.select(DOC, 2, NOW)) == ['doc:1#viewer@user:alice[only_on:{"day":2}]']


def test_applied_rows_stay_invisible_until_advance() -> None:
    index = loaded("doc:1#viewer@user:alice")
    index.apply_rows(
        [
            change(2, Operation.DELETE, "doc:1#viewer@user:alice"),
            change(2, Operation.TOUCH, "doc:1#viewer@user:bob"),
        ]
    )
    assert texts(index.select(DOC, 1, NOW)) == ["doc:1#viewer@user:alice"]  # as before
    assert index.select(DOC, 2, NOW) is None  # not published yet: the database answers
    index.advance(2)
    assert texts(index.select(DOC, 2, NOW)) == ["doc:1#viewer@user:bob"]
    assert texts(index.select(DOC, 1, NOW)) == ["doc:1#viewer@user:alice"]
