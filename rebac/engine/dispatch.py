"""The dispatcher chain: caching -> local, where local re-enters the head for every sub-problem.

Only check sub-problems recurse through the chain (they are what caching and limits protect);
expand and the lookups are top-level operations that issue checks through the same head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from rebac.engine.caching import CachingDispatcher, CheckCache
from rebac.engine.check import Checker
from rebac.engine.requests import CheckRequest
from rebac.engine.results import CheckResult
from rebac.store.base import TupleReader

__all__ = ["Dispatcher", "LocalDispatcher", "build_chain"]


class Dispatcher(Protocol):
    """One link of the chain. Every link answers check sub-problems."""

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Answer ``request`` for every resource id in it."""
        ...


class LocalDispatcher:
    """Evaluates locally; every sub-problem goes back to ``head``."""

    __slots__ = ("_checker",)

    def __init__(self, reader: TupleReader) -> None:
        self._checker = Checker(reader)

    def attach(self, head: Dispatcher) -> None:
        """Set the chain head sub-problems are sent to."""
        self._checker.redispatch = head

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Evaluate ``request`` locally."""
        return await self._checker.check(request)


def build_chain(reader: TupleReader, cache: CheckCache | None) -> Dispatcher:
    """Build ``caching -> local`` (or just ``local`` without a cache) and return the head."""
    local = LocalDispatcher(reader)
    head: Dispatcher = local if cache is None else CachingDispatcher(local, cache)
    local.attach(head)
    return head
