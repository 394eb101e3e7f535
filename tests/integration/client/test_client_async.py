"""The async client has the sync client's methods; the same calls against the same live server."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest

from rebac.client import (
    AsyncClient,
    BulkCheck,
    Client,
    EvaluationItem,
    NotFound,
    Reason,
    RelationshipFilter,
    Update,
)
from rebac.refs import SubjectRef

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") and name not in {"close", "aclose"}
    }


def test_both_clients_have_the_same_methods_and_parameters() -> None:
    sync, not_sync = _public(Client), _public(AsyncClient)
    assert sync.keys() == not_sync.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(not_sync[name].parameters), name
    assert hasattr(Client, "close")
    assert hasattr(AsyncClient, "aclose")


async def test_async_v1_calls(asdk: AsyncClient, uid: str) -> None:
    assert await asdk.health() == "ok"
    assert await asdk.ready()
    user = f"user:u-{uid}"
    await asdk.write_relationships([f"document:{uid}-{i}#viewer@{user}" for i in range(5)])
    await asdk.write_relationships([Update.touch(f"document:{uid}-c#viewer@{user}[on_weekday]")])
    result = await asdk.check(f"document:{uid}-0", "view", user)
    assert result.allowed
    assert (await asdk.decide(f"document:{uid}-c", "view", user)).reason is Reason.CONDITIONAL
    bulk = await asdk.check_bulk(
        [
            ("yes", BulkCheck(resource=f"document:{uid}-0", permission="view", subject=user)),
            ("bad", BulkCheck(resource=f"document:{uid}-0", permission="nosuch", subject=user)),
        ]
    )
    assert bulk["yes"].allowed
    assert bulk["bad"].error is not None
    tree = await asdk.expand(f"document:{uid}-0", "view")
    assert tree.tree.operation == "exclusion"
    resources = asdk.lookup_resources("document", "view", user, page_size=2)
    ids = sorted([r.resource.id async for r in resources])
    assert ids == sorted([f"{uid}-{i}" for i in range(5)] + [f"{uid}-c"])
    assert resources.pages >= 3
    subjects = [s.subject async for s in asdk.lookup_subjects(f"document:{uid}-0", "view", "user")]
    assert subjects == [SubjectRef("user", f"u-{uid}")]
    flt = RelationshipFilter(resource_type="document", resource_id=f"{uid}-0")
    assert len([r async for r in asdk.read_relationships(flt, page_size=1)]) == 1
    deleted = await asdk.delete_relationships(flt)
    assert deleted.deleted_count == 1


async def test_async_import_export_watch_and_schema(asdk: AsyncClient, uid: str) -> None:
    start = await asdk.write_relationships([f"document:{uid}#viewer@user:w-{uid}"])

    async def lines() -> AsyncIterator[str]:
        for i in range(1500):
            yield f"document:ai{i}-{uid}#viewer@user:ai-{uid}"

    imported = await asdk.import_relationships(lines())
    assert imported.loaded == 1500
    assert (await asdk.import_relationships([f"document:ai-sync-{uid}#viewer@user:ai-{uid}"])).loaded == 1
    flt = RelationshipFilter(subject_type="user", subject_id=f"ai-{uid}")
    async with asdk.export_relationships(flt) as stream:
        exported = [rel async for rel in stream]
    assert len(exported) == 1501
    assert stream.token
    # the server ends a watch after about 1000 changes; resuming from its last token sees the rest
    seen, position, streams = 0, start, 0
    while seen < 1501 and streams < 5:
        watch = asdk.watch(position, timeout_seconds=0.5)
        events = [event async for event in watch]
        assert events[-1].is_checkpoint
        assert watch.token == events[-1].changes_through
        seen += sum(len(e.updates) for e in events)
        position, streams = watch.token, streams + 1
    assert seen == 1501
    assert streams >= 2
    schema = await asdk.read_schema()
    assert not (await asdk.diff_schema(schema.text)).changed
    assert (await asdk.schema_versions())[-1].current
    with pytest.raises(NotFound):
        await asdk.diff_schema(from_version=schema.version + 100)
    assert (await asdk.read_schema(version=schema.version)).text == schema.text
    with pytest.raises(NotFound):
        await asdk.read_schema(version=schema.version + 100)


async def test_async_authzen_and_admin(asdk: AsyncClient, uid: str) -> None:
    await asdk.write_relationships([f"document:{uid}#viewer@user:z{i}-{uid}" for i in range(3)])
    assert (await asdk.evaluate(f"user:z0-{uid}", "view", f"document:{uid}")).decision
    many = await asdk.evaluate_many(
        [EvaluationItem(resource=f"document:{uid}"), EvaluationItem(resource=f"document:{uid}-none")],
        subject=f"user:z0-{uid}",
        action="view",
    )
    assert [e.decision for e in many] == [True, False]
    found = [e.id async for e in asdk.search_subjects("user", "view", f"document:{uid}", page_size=2)]
    assert sorted(found) == [f"z{i}-{uid}" for i in range(3)]
    assert [e.id async for e in asdk.search_resources(f"user:z1-{uid}", "view", "document")] == [uid]
    assert "view" in await asdk.search_actions(f"user:z1-{uid}", f"document:{uid}")
    assert "access_evaluations_endpoint" in await asdk.authzen_configuration()
    assert (await asdk.decision_stats()).enabled
    assert isinstance([d async for d in asdk.decisions(page_size=5)], list)
    assert isinstance([d async for d in asdk.export_decisions(limit=3)], list)
    assert isinstance([i async for i in asdk.identities(page_size=5)], list)
    assert isinstance([r async for r in asdk.reviews()], list)
    await asdk.spawn_agent(f"agent:a-{uid}", f"user:z0-{uid}", [f"document:{uid}#viewer"])
    reach = await asdk.blast_radius(f"agent:a-{uid}")
    assert reach.groups
    assert (await asdk.blast_radius_graph(f"agent:a-{uid}", graph_format="graphml")).startswith("<")
