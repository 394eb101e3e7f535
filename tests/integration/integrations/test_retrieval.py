"""Retrieval filtering equals brute-force per-item checks, for a delegated agent, and fails closed.

A small dataset is generated (seeded) on the live server: documents a human may view, documents
granted to her agent, and the agent acting for her. The post-filter (one bulk check) and the
pre-filter (lookup resources, every page) must both keep exactly what a check of each item, one by
one, allows: the intersection of the agent's and its principal's reach.
"""

from __future__ import annotations

import random
import socket
import uuid
from dataclasses import dataclass

import httpx
import pytest
from cli_live import KEY

from rebac.client import (
    AsyncClient,
    Client,
    Consistency,
    Permissionship,
    RebacClientError,
    Retry,
)
from rebac.integrations.retrieval import aallowed_ids, afilter_allowed, allowed_ids, filter_allowed

pytestmark = pytest.mark.integration

DOCS = 60


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, as a vector store returns it."""

    doc_id: str
    text: str


@dataclass(frozen=True)
class Dataset:
    user: str
    agent: str
    stranger: str
    ids: list[str]


@pytest.fixture(scope="module")
def dataset(rebac_url: str) -> Dataset:
    rng = random.Random(13)  # noqa: S311 - a seeded dataset, not a secret
    tag = uuid.uuid4().hex[:8]
    user, agent, stranger = f"user:u{tag}", f"agent:a{tag}", f"user:s{tag}"
    ids = [f"r{tag}-{n}" for n in range(DOCS)]
    rels = [f"{agent}#principal@{user}"]
    for doc in ids:
        if rng.random() < 0.6:
            rels.append(f"document:{doc}#viewer@{user}")
        if rng.random() < 0.6:
            rels.append(f"document:{doc}#viewer@{agent}")
    with Client(rebac_url, key=KEY) as client:
        client.write_relationships(rels)
    return Dataset(user, agent, stranger, ids)


def _brute(client: Client, subject: str, ids: list[str], via: list[str] | None) -> list[str]:
    full = Consistency.fully_consistent()
    return sorted(
        doc
        for doc in ids
        if client.check(f"document:{doc}", "view", subject, via=via, consistency=full).permissionship
        is Permissionship.HAS_PERMISSION
    )


def _hits(ids: list[str]) -> list[Hit]:
    return [Hit(doc, f"chunk of {doc}") for doc in ids]


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}"  # nothing listens: every call is refused


def test_filter_allowed_equals_per_item_checks(client: Client, dataset: Dataset) -> None:
    via = [dataset.agent, dataset.user]
    expected = _brute(client, dataset.agent, dataset.ids, via)
    user_reach = set(_brute(client, dataset.user, dataset.ids, None))
    # the dataset is not degenerate: the cap removes some of the agent's own grants
    assert 0 < len(expected) < len(user_reach)
    assert set(expected) <= user_reach
    hits = _hits(dataset.ids)
    rng = random.Random(7)  # noqa: S311 - a seeded shuffle
    rng.shuffle(hits)
    kept = filter_allowed(client, dataset.agent, "view", hits, key=lambda h: f"document:{h.doc_id}", via=via)
    assert sorted(h.doc_id for h in kept) == expected
    assert kept == [h for h in hits if h.doc_id in set(expected)]  # the retrieval order is kept
    # without a via chain the server derives it from the recorded principal: the same cap
    derived = filter_allowed(client, dataset.agent, "view", hits, key=lambda h: f"document:{h.doc_id}")
    assert sorted(h.doc_id for h in derived) == expected


def test_allowed_ids_equals_per_item_checks(client: Client, dataset: Dataset) -> None:
    via = [dataset.agent, dataset.user]
    expected = _brute(client, dataset.agent, dataset.ids, via)
    found = [
        i
        for i in allowed_ids(client, dataset.agent, "document", "view", via=via, page_size=7)
        if i in dataset.ids
    ]
    assert found == expected
    plain = [
        i for i in allowed_ids(client, dataset.agent, "document", "view", page_size=7) if i in dataset.ids
    ]
    assert plain == expected


def test_a_chain_that_does_not_match_keeps_nothing(client: Client, dataset: Dataset) -> None:
    wrong = [dataset.agent, dataset.stranger]  # the agent does not act for this user
    hits = _hits(dataset.ids)
    assert (
        filter_allowed(client, dataset.agent, "view", hits, key=lambda h: f"document:{h.doc_id}", via=wrong)
        == []
    )
    assert [
        i for i in allowed_ids(client, dataset.agent, "document", "view", via=wrong) if i in dataset.ids
    ] == []


async def test_async_variants_agree(rebac_url: str, client: Client, dataset: Dataset) -> None:
    via = [dataset.agent, dataset.user]
    expected = _brute(client, dataset.agent, dataset.ids, via)
    async with AsyncClient(rebac_url, key=KEY) as aclient:
        kept = await afilter_allowed(
            aclient, dataset.agent, "view", _hits(dataset.ids), key=lambda h: f"document:{h.doc_id}", via=via
        )
        found = await aallowed_ids(aclient, dataset.agent, "document", "view", via=via, page_size=9)
    assert sorted(h.doc_id for h in kept) == expected
    assert [i for i in found if i in dataset.ids] == expected


def test_rebac_down_filter_keeps_nothing_and_allowed_ids_raises(dataset: Dataset) -> None:
    with Client(_dead_url(), key=KEY, timeout=2, retry=Retry(attempts=1)) as dead:
        hits = _hits(dataset.ids)
        assert filter_allowed(dead, dataset.agent, "view", hits, key=lambda h: f"document:{h.doc_id}") == []
        with pytest.raises(RebacClientError):
            allowed_ids(dead, dataset.agent, "document", "view")


async def test_rebac_down_async(dataset: Dataset) -> None:
    async with AsyncClient(_dead_url(), key=KEY, timeout=2, retry=Retry(attempts=1)) as dead:
        kept = await afilter_allowed(
            dead, dataset.agent, "view", _hits(dataset.ids), key=lambda h: f"document:{h.doc_id}"
        )
        assert kept == []
        with pytest.raises(RebacClientError):
            await aallowed_ids(dead, dataset.agent, "document", "view")


class _Counting(httpx.BaseTransport):
    """A real HTTP transport that records the path of every request sent."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def test_post_filter_is_one_bulk_request_and_pre_filter_reads_every_page(
    rebac_url: str, dataset: Dataset
) -> None:
    via = [dataset.agent, dataset.user]
    spy = _Counting()
    with Client(rebac_url, key=KEY, transport=spy) as counted:
        kept = filter_allowed(
            counted, dataset.agent, "view", _hits(dataset.ids), key=lambda h: f"document:{h.doc_id}", via=via
        )
        assert spy.paths == ["/v1/permissions/checkbulk"]
        spy.paths.clear()
        found = [
            i
            for i in allowed_ids(counted, dataset.agent, "document", "view", page_size=5)
            if i in dataset.ids
        ]
    pages = spy.paths.count("/v1/permissions/resources")
    assert pages > len(found) // 5  # a page of 5 at a time, every page read
    assert found == sorted(h.doc_id for h in kept)
