"""The sync client against a real ``rebac serve``: permissions, relationships, schema, watch, AuthZEN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_live import SCHEMA, Live

from rebac.client import (
    MAX_BULK_ITEMS,
    BadRequest,
    BulkCheck,
    Client,
    Conflict,
    Consistency,
    Entity,
    EvaluationItem,
    Forbidden,
    LimitExceeded,
    NotFound,
    Permissionship,
    Precondition,
    PreconditionFailed,
    Reason,
    Relationship,
    RelationshipFilter,
    Unauthenticated,
    Update,
)
from rebac.errors import RefSyntaxError
from rebac.refs import ObjectRef, SubjectRef, parse_relationship

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def test_check_decide_and_allowed(sdk: Client, uid: str) -> None:
    doc, alice = f"document:{uid}", f"user:alice-{uid}"
    sdk.write_relationships(
        [
            f"{doc}#viewer@{alice}",
            f"document:{uid}-c#viewer@{alice}[on_weekday]",
            f"{doc}#viewer@user:bob-{uid}",
            f"{doc}#banned@user:bob-{uid}",
        ]
    )
    result = sdk.check(doc, "view", alice, with_tracing=True)
    assert result.allowed
    assert result.permissionship is Permissionship.HAS_PERMISSION
    assert result.decision_id
    assert result.trace is not None
    assert sdk.allowed(ObjectRef("document", uid), "view", SubjectRef("user", f"alice-{uid}"))

    denied = sdk.decide(doc, "view", f"user:bob-{uid}")
    assert (denied.allowed, denied.reason, denied.error) == (False, Reason.DENIED, None)
    assert not denied
    conditional = sdk.decide(f"document:{uid}-c", "view", alice)
    assert (conditional.allowed, conditional.reason) == (False, Reason.CONDITIONAL)
    assert conditional.missing_context == ("day",)
    assert sdk.allowed(f"document:{uid}-c", "view", alice, context={"day": "mon"})
    assert not sdk.allowed(f"document:{uid}-c", "view", alice, context={"day": "sun"})

    broken = sdk.decide(f"nosuchtype:{uid}", "view", alice)
    assert (broken.allowed, broken.reason) == (False, Reason.ERROR)
    assert isinstance(broken.error, BadRequest)
    assert broken.error.type == "urn:rebac:problem:unknown-type"
    malformed = sdk.decide("not a reference", "view", alice)
    assert (malformed.allowed, malformed.reason) == (False, Reason.ERROR)
    assert isinstance(malformed.error, RefSyntaxError)
    with pytest.raises(RefSyntaxError):
        sdk.check("not a reference", "view", alice)


def test_delegation_hops_say_which_link_failed(sdk: Client, uid: str) -> None:
    agent, human = f"agent:a-{uid}", f"user:h-{uid}"
    sdk.write_relationships(
        [
            f"{agent}#principal@{human}",
            f"document:{uid}#viewer@{agent}",
            f"document:{uid}-both#viewer@{agent}",
        ]
    )
    sdk.write_relationships([f"document:{uid}-both#viewer@{human}"])
    assert sdk.allowed(f"document:{uid}-both", "view", agent)
    capped = sdk.decide(f"document:{uid}", "view", agent)
    assert (capped.allowed, capped.reason) == (False, Reason.DELEGATION)
    assert capped.failed_hop is not None
    assert capped.failed_hop.subject == SubjectRef("user", f"h-{uid}")
    assert [hop.depth for hop in capped.delegation] == [0, 1]
    wrong_chain = sdk.decide(f"document:{uid}-both", "view", agent, via=[f"user:someone-else-{uid}"])
    assert wrong_chain.reason is Reason.DELEGATION
    assert wrong_chain.failed_hop is not None
    assert wrong_chain.failed_hop.reason == "chain_mismatch"


def test_check_bulk_keys_results_by_correlation_id(sdk: Client, uid: str) -> None:
    sdk.write_relationships([f"document:{uid}#viewer@user:u-{uid}"])
    marker = object()
    items = {
        "first": BulkCheck(resource=f"document:{uid}", permission="view", subject=f"user:u-{uid}"),
        ("tuple", 2): BulkCheck(resource=f"document:{uid}", permission="nosuchperm", subject=f"user:u-{uid}"),
        7: BulkCheck(resource=f"document:{uid}", permission="view", subject=f"user:other-{uid}"),
        marker: BulkCheck(resource=f"document:{uid}", permission="view", subject=f"user:u-{uid}"),
    }
    results = sdk.check_bulk(items)
    assert list(results) == list(items)
    assert results["first"].allowed
    assert results[marker].allowed
    assert not results[7].allowed
    assert results[7].error is None
    failed = results[("tuple", 2)]
    assert not failed.allowed
    assert failed.permissionship is None
    assert failed.error is not None
    assert failed.error.type == "urn:rebac:problem:unknown-relation"
    assert failed.error.status == 400
    pairs = [("a", items["first"]), ("a", items["first"])]
    with pytest.raises(ValueError, match="used twice"):
        sdk.check_bulk(pairs)


def test_check_bulk_splits_large_batches_at_one_snapshot(sdk: Client, uid: str) -> None:
    sdk.write_relationships([f"document:{uid}#viewer@user:u-{uid}"])
    count = MAX_BULK_ITEMS + 3
    items = [
        (i, BulkCheck(resource=f"document:{uid}", permission="view", subject=f"user:u-{uid}"))
        for i in range(count)
    ]
    results = sdk.check_bulk(items)
    assert list(results) == list(range(count))
    assert all(r.allowed for r in results.values())
    assert len({r.checked_at for r in results.values()}) == 1


def test_expand(sdk: Client, uid: str) -> None:
    sdk.write_relationships([f"document:{uid}#viewer@user:e-{uid}", f"document:{uid}#owner@user:o-{uid}"])
    found = sdk.expand(f"document:{uid}", "view")
    assert found.tree.operation == "exclusion"
    assert found.tree.resource == ObjectRef("document", uid)
    leaves: list[SubjectRef] = []
    todo = [found.tree]
    while todo:
        node = todo.pop()
        leaves.extend(node.subjects)
        todo.extend(node.children)
    assert SubjectRef("user", f"e-{uid}") in leaves


def test_lookups_follow_the_cursor_to_the_end(sdk: Client, uid: str) -> None:
    user = f"user:l-{uid}"
    sdk.write_relationships([f"document:{uid}-{i}#viewer@{user}" for i in range(7)])
    sdk.write_relationships([f"document:{uid}-cond#viewer@{user}[on_weekday]"])
    resources = sdk.lookup_resources("document", "view", user, page_size=2)
    found = list(resources)
    assert sorted(r.resource.id for r in found) == sorted([f"{uid}-{i}" for i in range(7)] + [f"{uid}-cond"])
    assert resources.pages >= 4
    assert resources.done
    assert resources.cursor is None
    conditional = next(r for r in found if r.resource.id == f"{uid}-cond")
    assert conditional.permissionship is Permissionship.CONDITIONAL_PERMISSION
    assert conditional.missing_context == ("day",)

    sdk.write_relationships([f"document:{uid}-s#viewer@user:s{i}-{uid}" for i in range(5)])
    subjects = list(sdk.lookup_subjects(f"document:{uid}-s", "view", "user", page_size=2))
    assert sorted(s.subject.id for s in subjects) == sorted(f"s{i}-{uid}" for i in range(5))


def test_write_read_delete_with_preconditions(sdk: Client, uid: str) -> None:
    rel = f"document:{uid}#viewer@user:w-{uid}"
    token = sdk.write_relationships([Update.create(rel)])
    assert sdk.token == token
    with pytest.raises(Conflict) as duplicate:
        sdk.write_relationships([Update.create(rel)])
    assert duplicate.value.status == 409
    assert duplicate.value.attempts == 1
    exists = RelationshipFilter(resource_type="document", resource_id=uid, relation="viewer")
    with pytest.raises(PreconditionFailed):
        sdk.write_relationships(
            [Update.touch(f"document:{uid}#owner@user:w-{uid}")],
            preconditions=[Precondition.must_not_match(exists)],
        )
    sdk.write_relationships(
        [Update.touch(f"document:{uid}#viewer@user:x{i}-{uid}") for i in range(3)],
        preconditions=[Precondition.must_match(exists)],
    )
    found = sdk.read_relationships(RelationshipFilter(resource_type="document", resource_id=uid), page_size=1)
    rels = list(found)
    assert len(rels) == 4
    assert found.pages >= 4
    assert parse_relationship(rel) in rels
    partial = sdk.delete_relationships(exists, limit=1, allow_partial=True)
    assert (partial.partial, partial.deleted_count) == (True, 1)
    rest = sdk.delete_relationships(exists)
    assert (rest.partial, rest.deleted_count) == (False, 3)
    assert list(sdk.read_relationships(exists)) == []


def test_import_streams_an_iterable_and_export_streams_it_back(sdk: Client, uid: str) -> None:
    consumed = 0

    def relationships() -> Iterator[Relationship | str]:
        nonlocal consumed
        for i in range(6000):
            consumed += 1
            text = f"document:imp{i}-{uid}#viewer@user:imp-{uid}"
            yield text if i % 2 else parse_relationship(text)

    result = sdk.import_relationships(relationships())
    assert (result.loaded, consumed) == (6000, 6000)
    assert sdk.token == result.written_at
    stream = sdk.export_relationships(RelationshipFilter(subject_type="user", subject_id=f"imp-{uid}"))
    with stream:
        exported = list(stream)
    assert len(exported) == 6000
    assert {r.subject for r in exported} == {SubjectRef("user", f"imp-{uid}")}
    assert stream.token
    with pytest.raises(BadRequest) as refused:
        sdk.import_relationships([f"document:bad-{uid}#nosuchrelation@user:x"])
    assert refused.value.status == 400


def test_schema_read_diff_versions_and_compare_and_set(sdk: Client) -> None:
    current = sdk.read_schema()
    assert "definition vault" in current.text
    assert not sdk.diff_schema(current.text).changed
    changed = sdk.diff_schema(current.text + "\ndefinition extra {}\n")
    assert changed.changed
    assert "+definition extra" in changed.diff
    versions = sdk.schema_versions()
    assert versions[-1].current
    assert versions[-1].version == current.version
    with pytest.raises(Conflict) as conflict:
        sdk.write_schema(SCHEMA, expected_version=current.version + 100)
    assert conflict.value.type == "urn:rebac:problem:schema-version-conflict"
    assert sdk.read_schema().version == current.version
    with pytest.raises(NotFound):
        sdk.diff_schema(from_version=current.version + 100)
    first = sdk.read_schema(version=versions[0].version)  # GET /v1/schema/versions/{version}
    assert (first.version, first.hash) == (versions[0].version, versions[0].hash)
    assert sdk.read_schema(version=current.version).text == current.text
    with pytest.raises(NotFound):
        sdk.read_schema(version=current.version + 100)
    with pytest.raises((NotFound, BadRequest)):  # past any stored integer: never a server error
        sdk.read_schema(version=2**70)


def test_watch_from_a_token_ends_at_the_checkpoint_and_resumes(sdk: Client, uid: str) -> None:
    start = sdk.write_relationships([f"document:{uid}#viewer@user:w0-{uid}"])
    sdk.write_relationships([f"document:{uid}#viewer@user:w1-{uid}"])
    sdk.write_relationships([Update.delete(f"document:{uid}#viewer@user:w0-{uid}")])
    stream = sdk.watch(start, timeout_seconds=1)
    events = list(stream)
    assert events[-1].is_checkpoint
    mine = [u for e in events for u in e.updates if u.relationship.resource.id == uid]
    assert [(u.operation.name, u.relationship.subject.id) for u in mine] == [
        ("TOUCH", f"w1-{uid}"),
        ("DELETE", f"w0-{uid}"),
    ]
    assert stream.token == events[-1].changes_through
    later = list(sdk.watch(stream.token, timeout_seconds=0.3))
    assert [u for e in later for u in e.updates if u.relationship.resource.id == uid] == []
    assert later[-1].is_checkpoint


def test_authzen_evaluations_and_searches(sdk: Client, uid: str) -> None:
    sdk.write_relationships([f"document:{uid}#viewer@user:z{i}-{uid}" for i in range(3)])
    assert sdk.evaluate(f"user:z0-{uid}", "view", f"document:{uid}").decision
    denied = sdk.evaluate(Entity(type="user", id=f"nobody-{uid}"), "view", Entity(type="document", id=uid))
    assert not denied.decision
    assert denied.decision_id
    many = sdk.evaluate_many(
        [
            EvaluationItem(subject=f"user:z1-{uid}"),
            EvaluationItem(subject=f"user:nobody-{uid}"),
            EvaluationItem(subject=f"user:z2-{uid}"),
        ],
        action="view",
        resource=f"document:{uid}",
        semantic="deny_on_first_deny",
    )
    assert [e.decision for e in many] == [True, False]
    failed = sdk.evaluate_many([EvaluationItem(subject="user:x", action="view", resource="nosuchtype:x")])
    # an unknown type is an AuthZEN deny with its reason, not an item error (issue 14)
    assert (failed[0].decision, failed[0].error) == (False, None)
    assert failed[0].context["reason"] == "unknown_type"
    subjects = sdk.search_subjects("user", "view", f"document:{uid}", page_size=1)
    assert sorted(e.id for e in subjects) == [f"z{i}-{uid}" for i in range(3)]
    assert subjects.pages >= 3
    assert [e.id for e in sdk.search_resources(f"user:z0-{uid}", "view", "document")] == [uid]
    assert "view" in sdk.search_actions(f"user:z0-{uid}", f"document:{uid}")
    config = sdk.authzen_configuration()
    assert config["access_evaluation_endpoint"] == f"{sdk.base_url}/access/v1/evaluation"


def test_errors_are_typed_problem_details(sdk_live: Live, sdk: Client) -> None:
    with Client(sdk_live.url, key="wrong-key") as stranger, pytest.raises(Unauthenticated) as unauth:
        stranger.check("document:x", "view", "user:x")
    assert unauth.value.status == 401
    assert unauth.value.type == "urn:rebac:problem:unauthenticated"
    assert unauth.value.title
    checker_key = sdk_live.scoped_key("check")
    with Client(sdk_live.url, key=checker_key) as checker:
        assert not checker.allowed("document:nope", "view", "user:nobody")
        with pytest.raises(Forbidden) as forbidden:
            checker.write_relationships(["document:x#viewer@user:x"])
    assert forbidden.value.status == 403
    with pytest.raises(LimitExceeded) as limited:
        list(sdk.lookup_resources("document", "view", "user:x", page_size=10**7))
    assert limited.value.extensions["limit"] == "MAX_LOOKUP_PAGE_SIZE"
    assert isinstance(limited.value, BadRequest)
    assert isinstance(limited.value, ValueError)


def test_health_and_ready(sdk: Client) -> None:
    assert sdk.health() == "ok"
    assert sdk.ready()
    assert sdk.read_schema().read_at
    assert sdk.check(
        "document:nope", "view", "user:nobody", consistency=Consistency.fully_consistent()
    ).checked_at
