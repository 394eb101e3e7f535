# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Small helpers for the engine unit tests (memory store + compiled or hand-built schemas)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from rebac.config import EngineSettings
from rebac.engine import CheckCache, Engine
from rebac.engine.model import reachability_for
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema, ir
from rebac.store.base import Operation, RelationshipUpdate
from rebac.store.memory import MemoryTupleStore


class Clock:
    """A settable clock shared by the store and the engine."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def make_engine(
    schema: str | ir.Schema,
    relationships: Iterable[str] = (),
    *,
    cache: CheckCache | None = None,
    settings: EngineSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    store: MemoryTupleStore | None = None,
) -> tuple[Engine, MemoryTupleStore]:
    compiled = compile_schema(schema, "<test>") if isinstance(schema, str) else schema
    if store is None:
        store = (
            MemoryTupleStore(quantization_seconds=0, clock=clock)
            if clock
            else MemoryTupleStore(quantization_seconds=0)
        )
    rels = [RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in relationships]
    if rels:
        await store.write(rels)
    engine = Engine.build(
        store,
        compiled,
        reachability=reachability_for(compiled),
        cache=cache,
        settings=settings,
        clock=clock,
    )
    return engine, store


async def perm(engine: Engine, text: str, context: dict[str, object] | None = None) -> str:
    """``doc:1#view@user:tom`` -> 'yes' | 'caveated' | 'no'."""
    left, subject = text.split("@")
    resource, permission = left.split("#")
    result = await engine.check(parse_object(resource), permission, parse_subject(subject), context=context)
    return {
        "PERMISSIONSHIP_HAS_PERMISSION": "yes",
        "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "caveated",
        "PERMISSIONSHIP_NO_PERMISSION": "no",
    }[result.permissionship.value]
