# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Open mutants of issue 15 settled (docs/mutation.md, "Open").

A principal graph that is acyclic but not a tree (an agent reaching one principal along two
paths) must not look cyclic: Tarjan's components must not merge through a cross edge to a
component already finished. Both edge orders are checked, since the depth-first walk follows
the order in which the principals are read.
"""

from __future__ import annotations

import pytest
from engine_helpers import make_engine

from rebac.engine import Permissionship
from rebac.refs import parse_object, parse_subject

NO = Permissionship.NO_PERMISSION
YES = Permissionship.HAS_PERMISSION

DELEGATION = """
definition user {}

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition doc {
    relation viewer: user | agent
    permission view = viewer
}
"""


@pytest.mark.parametrize("inner", ["agent:b#principal@agent:c", "agent:c#principal@agent:b"])
async def test_a_principal_reached_along_two_paths_is_no_cycle(inner):
    # s acts for b and c, one of which also acts for the other: a diamond, not a cycle
    rels = [
        "agent:s#principal@agent:b",
        "agent:s#principal@agent:c",
        inner,
        "agent:b#principal@user:alice",
        "agent:c#principal@user:alice",
        "doc:d#viewer@agent:s",
        "doc:d#viewer@agent:b",
        "doc:d#viewer@agent:c",
        "doc:d#viewer@user:alice",
    ]
    engine, _ = await make_engine(DELEGATION, rels)
    result = await engine.check(parse_object("doc:d"), "view", parse_subject("agent:s"))
    assert result.permissionship is YES
    assert not result.cycle_detected
    found = await engine.lookup_resources("doc", "view", parse_subject("agent:s"))
    assert [item.resource_id for item in found.items] == ["d"]
