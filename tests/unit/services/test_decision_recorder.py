"""DecisionRecorder: batching, sampling, overload policy, retries, drain on close, ids, records."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from rebac.config import DecisionLogSettings
from rebac.engine.results import CheckResult, Hop, HopReason, Permissionship
from rebac.errors import InvalidInputError, MaxDepthExceededError, StoreUnavailableError
from rebac.refs import parse_object, parse_subject
from rebac.services.decisions import DecisionScope, build_record, cap_context, decision_id_time
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import DecisionFilter, DecisionKey, DecisionRecord, DecisionResult
from rebac.store.memory import MemoryTupleStore
from rebac.store.revision import Revision

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class Sink:
    """A decision log that remembers each batch; optionally slow, or failing a number of times."""

    batches: list[list[DecisionRecord]] = field(default_factory=list)
    delay: float = 0.0
    failures: int = 0
    gate: asyncio.Event | None = None
    dropped_before: list[datetime] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a batch reaches the sink (before the gate)."""
    appended: asyncio.Condition = field(default_factory=asyncio.Condition)
    """Notified after each batch is stored."""

    async def append_decisions(self, batch: Sequence[DecisionRecord]) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("down")
        self.batches.append(list(batch))
        async with self.appended:
            self.appended.notify_all()

    async def wait_written(self, count: int) -> None:
        """Wait (at most 10 s, a bound, not a timing) until ``count`` records are stored."""
        async with asyncio.timeout(10), self.appended:
            await self.appended.wait_for(lambda: len(self.written) >= count)

    async def query_decisions(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        found = [r for r in self.written if flt.matches(r) and (after is None or r.key < after)]
        return found[:limit]

    async def drop_decisions_before(self, before: datetime) -> int:
        self.dropped_before.append(before)
        return 0

    @property
    def written(self) -> list[DecisionRecord]:
        return [r for b in self.batches for r in b]


def record(result: DecisionResult = DecisionResult.ALLOWED, n: int = 0) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(uuid.uuid4()),
        decided_at=NOW,
        source="check",
        caller="k1",
        subject=f"user:u{n}",
        permission="view",
        resource="doc:1",
        result=result,
        reason="granted",
    )


def settings(**kwargs: object) -> DecisionLogSettings:
    base: dict[str, object] = {"batch_size": 10, "flush_seconds": 0.05, "queue_capacity": 1000}
    base.update(kwargs)
    return DecisionLogSettings(**base)  # type: ignore[arg-type]


async def test_full_batches_are_written_without_waiting_for_the_timer() -> None:
    sink = Sink()
    recorder = DecisionRecorder(sink, settings(flush_seconds=60.0))
    recorder.start(prune_every_seconds=None)
    for i in range(25):
        await recorder.record(record(n=i))
    await sink.wait_written(20)
    assert [len(b) for b in sink.batches] == [10, 10]  # the last 5 wait for the timer or a flush
    await recorder.aclose()
    assert [len(b) for b in sink.batches] == [10, 10, 5]
    assert recorder.stats().written == 25


async def test_the_timer_flushes_a_partial_batch() -> None:
    sink = Sink()
    recorder = DecisionRecorder(sink, settings(flush_seconds=0.02))
    recorder.start(prune_every_seconds=None)
    await recorder.record(record())
    await sink.wait_written(1)  # no flush was asked for: only the timer writes it
    assert len(sink.written) == 1
    await recorder.aclose()


async def test_sampling_keeps_denials_errors_and_conditionals() -> None:
    sink = Sink()
    recorder = DecisionRecorder(sink, settings(sample_rate=0.0))
    kinds = [DecisionResult.ALLOWED, DecisionResult.DENIED, DecisionResult.CONDITIONAL, DecisionResult.ERROR]
    kept = [await recorder.record(record(kind)) for kind in kinds]
    assert kept == [False, True, True, True]
    await recorder.aclose()
    assert sorted(r.result for r in sink.written) == sorted(kinds[1:])
    assert recorder.stats().sampled_out == 1


async def test_sampling_rate_applies_to_allowed_decisions() -> None:
    recorder = DecisionRecorder(Sink(), settings(sample_rate=0.25), rng=random.Random(7))  # noqa: S311 - sampling
    kept = sum([await recorder.record(record()) for _ in range(2000)])
    assert 400 < kept < 600
    strict = DecisionRecorder(Sink(), settings(sample_rate=0.0, always_record_denials=False))
    assert not await strict.record(record(DecisionResult.DENIED))
    with pytest.raises(ValueError, match="sample_rate"):
        DecisionRecorder(Sink(), settings(sample_rate=1.5))


async def test_aclose_drains_everything_from_a_slow_store() -> None:
    sink = Sink(delay=0.01)
    recorder = DecisionRecorder(sink, settings(batch_size=7, flush_seconds=10.0))
    recorder.start(prune_every_seconds=None)
    records = [record(n=i) for i in range(100)]
    for r in records:
        await recorder.record(r)
    await recorder.aclose()
    assert sorted(r.decision_id for r in sink.written) == sorted(r.decision_id for r in records)
    stats = recorder.stats()
    assert (stats.recorded, stats.written, stats.queued, stats.dropped) == (100, 100, 0, 0)
    assert not await recorder.record(record())  # closed: refused and counted
    assert recorder.stats().dropped == 1


async def test_flush_without_a_started_flusher_writes_inline() -> None:
    sink = Sink()
    recorder = DecisionRecorder(sink, settings(batch_size=4))
    for i in range(9):
        await recorder.record(record(n=i))
    await recorder.flush()
    assert [len(b) for b in sink.batches] == [4, 4, 1]


async def test_overload_waits_boundedly_then_counts_the_drop() -> None:
    gate = asyncio.Event()  # the store accepts nothing until the gate opens
    sink = Sink(gate=gate)
    recorder = DecisionRecorder(
        sink, settings(queue_capacity=5, batch_size=5, overload_wait_seconds=0.05, flush_seconds=0.0)
    )
    for i in range(5):
        assert await recorder.record(record(n=i))
    recorder.start(prune_every_seconds=None)  # after the 5: its first batch is all of them
    async with asyncio.timeout(10):
        await sink.entered.wait()  # the flusher took those 5 and blocks on the store
    for i in range(5):
        assert await recorder.record(record(n=10 + i))
    full = asyncio.create_task(recorder.record(record(n=99)))
    for _ in range(3):
        await asyncio.sleep(0)  # let it run: the queue is full, so it must be waiting, not done
    assert not full.done()
    assert recorder.stats().dropped == 0
    async with asyncio.timeout(10):
        assert not await full  # the bounded wait ended: dropped
    assert recorder.stats().dropped == 1
    gate.set()
    await recorder.aclose()
    stats = recorder.stats()
    assert stats.written == 10
    assert stats.recorded == stats.written + stats.queued + stats.failed


async def test_what_a_crash_can_lose_is_bounded_by_capacity_plus_one_batch() -> None:
    gate = asyncio.Event()  # the store hangs: nothing is ever committed while the records pour in
    sink = Sink(gate=gate)
    recorder = DecisionRecorder(
        sink, settings(queue_capacity=20, batch_size=5, overload_wait_seconds=0.0, flush_seconds=0.0)
    )
    recorder.start(prune_every_seconds=None)
    assert await recorder.record(record(n=0))
    async with asyncio.timeout(10):
        await sink.entered.wait()  # the writer holds one batch and blocks on the store
    kept = 1 + sum([await recorder.record(record(n=i)) for i in range(1, 200)])
    stats = recorder.stats()
    assert stats.written == 0
    assert stats.queued == kept <= 20 + 5  # everything a crash now would lose, and its bound
    assert stats.dropped == 200 - kept  # the rest was refused and counted, not lost silently
    gate.set()
    await recorder.aclose()
    assert recorder.stats().written == kept


async def test_a_failing_store_is_retried_then_counted() -> None:
    sink = Sink(failures=2)
    recorder = DecisionRecorder(sink, settings())
    await recorder.record(record())
    await recorder.flush()
    assert len(sink.written) == 1
    dead = DecisionRecorder(Sink(failures=100), settings())
    await dead.record(record())
    await dead.flush()
    assert dead.stats().failed == 1
    assert dead.stats().queued == 0


async def test_ids_are_time_ordered_uuid7() -> None:
    recorder = DecisionRecorder(Sink())
    ids = [recorder.new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids[:10])


def embedded_time(decision_id: str) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=uuid.UUID(decision_id).int >> 80)


async def test_an_id_embeds_the_millisecond_of_its_decision_time() -> None:
    clock_now = [NOW]
    recorder = DecisionRecorder(Sink(), clock=lambda: clock_now[0])
    at = NOW + timedelta(days=3, microseconds=123_456)
    assert embedded_time(recorder.new_id(at)) == at.replace(microsecond=123_000)
    assert embedded_time(recorder.new_id()) == NOW  # default: the recorder's clock
    assert decision_id_time(recorder.new_id(at)) == at.replace(microsecond=123_000)
    # a clock that steps back far starts again at its own time; a small step back keeps the order
    back = NOW - timedelta(days=1)
    assert embedded_time(recorder.new_id(back)) == back
    ahead = recorder.new_id(back + timedelta(milliseconds=5))
    assert embedded_time(ahead) == back + timedelta(milliseconds=5)
    stepped_back = recorder.new_id(back)  # 5 ms before the previous id: it still sorts after it
    assert stepped_back > ahead
    assert embedded_time(stepped_back) == back + timedelta(milliseconds=5)


def test_decision_id_time_refuses_what_is_no_uuid7() -> None:
    for text in ("nope", str(uuid.uuid4()), "{" + str(uuid.uuid4()) + "}", ""):
        with pytest.raises(InvalidInputError):
            decision_id_time(text)


async def test_prune_uses_retention_days() -> None:
    sink = Sink()
    recorder = DecisionRecorder(sink, settings(retention_days=3), clock=lambda: NOW)
    await recorder.prune()
    assert sink.dropped_before == [NOW - timedelta(days=3)]
    assert await DecisionRecorder(sink, settings(retention_days=0)).prune() == 0


def test_build_record_names_the_failing_hop_and_caps_context() -> None:
    hops = (
        Hop(parse_subject("agent:sub"), 0, Permissionship.HAS_PERMISSION, HopReason.GRANTED),
        Hop(parse_subject("user:ann"), 1, Permissionship.NO_PERMISSION, HopReason.DENIED),
    )
    result = CheckResult(Permissionship.NO_PERMISSION, delegation=hops)
    scope = DecisionScope("check", "k1", Revision(4), 2, "h" * 64)
    rec = build_record(
        "id-1",
        decided_at=NOW,
        scope=scope,
        resource=parse_object("doc:1"),
        permission="view",
        subject=parse_subject("agent:sub"),
        outcome=result,
        context={"blob": "x" * 100},
        latency_ms=0.5,
        max_context_bytes=50,
    )
    assert rec.result is DecisionResult.DENIED
    assert rec.reason == "hop 1 user:ann: denied"
    assert [h["subject"] for h in rec.chain] == ["agent:sub", "user:ann"]
    assert rec.context == {"truncated": True, "bytes": len('{"blob":"' + "x" * 100 + '"}')}
    assert (rec.revision, rec.schema_version, rec.caller) == (4, 2, "k1")
    assert cap_context({"a": 1}, 50) == {"a": 1}
    error = build_record(
        "id-2",
        decided_at=NOW,
        scope=scope,
        resource=parse_object("doc:1"),
        permission="view",
        subject=parse_subject("user:tom"),
        outcome=MaxDepthExceededError("too deep"),
        context=None,
        latency_ms=0.1,
        max_context_bytes=50,
    )
    assert error.result is DecisionResult.ERROR
    assert error.reason.startswith("error: MaxDepthExceededError")


async def test_memory_store_is_a_decision_sink() -> None:
    store = MemoryTupleStore()
    recorder = DecisionRecorder(store, settings())
    recorder.start(prune_every_seconds=None)
    await recorder.record(record())
    await recorder.aclose()
    assert len(await store.query_decisions(DecisionFilter(), limit=10)) == 1
