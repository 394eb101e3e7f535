# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The check evaluator's narrowing and reuse, pinned down where mutation testing found no test.

Each test below failed on a mutant of ``rebac/engine/check.py`` that survived the suite
(docs/mutation.md): most of them turn a deny into an allow, directly or through the subtracted
side of an exclusion (a subtracted side that wrongly answers NO grants).
"""

from __future__ import annotations

import pytest
from engine_helpers import make_engine, perm

from rebac.config import EngineSettings
from rebac.errors import MaxDepthExceededError

USERSETS = """
definition user {}

definition group {
    relation member: user
    relation admin: user
}

definition team {
    relation member: group#member
}

definition doc {
    relation viewer: group | group#member | group#admin
    relation banned: group#member | team#member
    relation team: group
    relation banned_team: group
    permission see = viewer
    permission of_team = team->member
    permission view = viewer - banned
    permission team_view = team->member - banned
    permission unblocked = viewer - banned_team->member
}
"""


async def test_a_subject_set_is_a_member_of_itself_through_an_arrow():
    # dispatch's self-member rule: checking group:g#member against group:g#member is YES even
    # though group#member can only hold users (the type graph says "unreachable")
    engine, _ = await make_engine(USERSETS, ["doc:1#team@group:g"])
    assert await perm(engine, "doc:1#of_team@group:g#member") == "yes"
    assert await perm(engine, "doc:1#of_team@group:h#member") == "no"


async def test_a_subject_set_subtracted_through_an_arrow_denies():
    rels = ["doc:1#viewer@group:g#member", "doc:1#banned_team@group:g"]
    engine, _ = await make_engine(USERSETS, rels)
    assert await perm(engine, "doc:1#see@group:g#member") == "yes"
    assert await perm(engine, "doc:1#unblocked@group:g#member") == "no"


async def test_a_subject_set_matches_its_own_relation_directly_and_is_subtracted():
    rels = ["doc:1#team@group:g", "doc:1#banned@group:g#member"]
    engine, _ = await make_engine(USERSETS, rels)
    assert await perm(engine, "doc:1#of_team@group:g#member") == "yes"
    assert await perm(engine, "doc:1#team_view@group:g#member") == "no"


@pytest.mark.parametrize("stored", ["group:g", "group:g#admin"])
async def test_a_subject_set_does_not_match_the_plain_object_or_another_relation(stored):
    engine, _ = await make_engine(USERSETS, [f"doc:1#viewer@{stored}"])
    assert await perm(engine, "doc:1#see@group:g#member") == "no"
    assert await perm(engine, f"doc:1#see@{stored}") == "yes"


async def test_a_subject_set_read_is_narrowed_to_its_type():
    # team:t and group:t share an id: the team row must not be read as the group's
    schema = USERSETS.replace("relation viewer: group |", "relation viewer: team#member | group |")
    rels = ["doc:1#viewer@team:t#member", "group:t#member@user:tom"]
    engine, _ = await make_engine(schema, rels)
    assert await perm(engine, "doc:1#see@user:tom") == "no"
    assert await perm(engine, "doc:1#see@group:t#member") == "no"


async def test_a_subject_set_read_is_narrowed_to_its_relation():
    # the admin row must not be followed as group:x#member
    rels = ["doc:1#viewer@group:x#admin", "group:x#member@user:tom"]
    engine, _ = await make_engine(USERSETS, rels)
    assert await perm(engine, "doc:1#see@user:tom") == "no"
    assert await perm(engine, "doc:1#see@group:x#member") == "no"


async def test_a_subject_set_reached_through_a_nested_subject_set_is_subtracted():
    # banned holds team:t#member, which holds group:g#member: the subject is banned
    rels = [
        "doc:1#viewer@group:g#member",
        "doc:1#banned@team:t#member",
        "team:t#member@group:g#member",
    ]
    engine, _ = await make_engine(USERSETS, rels)
    assert await perm(engine, "doc:1#see@group:g#member") == "yes"
    assert await perm(engine, "doc:1#view@group:g#member") == "no"


GROUPS = """
definition user {}

caveat is_on(on bool) { on }

definition group {
    relation member: user | group#member
}

definition doc {
    relation viewer: group#member | group#member with is_on
    relation first: group#member
    relation second: group#member
    relation other: user
    permission see = viewer
    permission view = (first & other) + second
}
"""


async def test_a_group_that_contains_itself_ends_without_an_error():
    rels = ["group:g#member@group:g#member", "doc:1#viewer@group:g#member"]
    engine, _ = await make_engine(GROUPS, rels)
    assert await perm(engine, "doc:1#see@user:tom") == "no"
    assert await perm(engine, "group:g#member@user:tom") == "no"
    engine, _ = await make_engine(GROUPS, [*rels, "group:g#member@user:tom"])
    assert await perm(engine, "doc:1#see@user:tom") == "yes"


async def test_a_caveated_subject_set_row_is_evaluated_with_the_request_context():
    rels = ["doc:1#viewer@group:g#member[is_on]", "group:g#member@user:tom"]
    engine, _ = await make_engine(GROUPS, rels)
    assert await perm(engine, "doc:1#see@user:tom", {"on": False}) == "no"
    assert await perm(engine, "doc:1#see@user:tom", {"on": True}) == "yes"
    assert await perm(engine, "doc:1#see@user:tom") == "caveated"


# The members of group n need one more hop (through group m) to find tom. Reached through
# ``first`` that hop fits the depth budget; reached again through ``second`` (one hop deeper) it
# does not, and a result decided earlier in the same request must not stand in for the
# evaluation the budget refuses.
DEPTH = [
    "doc:1#first@group:n#member",
    "doc:1#second@group:h#member",
    "group:h#member@group:n#member",
    "group:n#member@group:m#member",
    "group:m#member@user:tom",
]


async def test_a_result_decided_earlier_in_the_request_does_not_bypass_the_depth_budget():
    engine, _ = await make_engine(GROUPS, DEPTH, settings=EngineSettings(max_depth=4))
    assert await perm(engine, "doc:1#view@user:tom") == "yes"
    engine, _ = await make_engine(GROUPS, DEPTH, settings=EngineSettings(max_depth=3))
    with pytest.raises(MaxDepthExceededError):
        await perm(engine, "doc:1#view@user:tom")
