"""Iterators over cursor pages and NDJSON streams, sync and async.

A page iterator follows the server's cursor until a page comes without one; a failure is raised,
never taken for the end (``cursor`` then says where to resume). A stream reads one line at a
time and is opened on the first ``next``; close it (or use it as a context manager) to stop early.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

from rebac.client._call import Call, Page, Paged
from rebac.client._errors import UnexpectedResponse

__all__ = ["AsyncPageIterator", "AsyncStream", "PageIterator", "Stream"]

T = TypeVar("T")


class _Pages(Generic[T]):
    def __init__(self, paged: Paged[T]) -> None:
        self._paged = paged
        self._cursor = paged.cursor
        self._items: deque[T] = deque()
        self._done = False
        self.pages = 0
        """Pages fetched so far."""

    @property
    def cursor(self) -> str | None:
        """Where the next page starts (``None`` before the first page and after the last)."""
        return None if self._done else self._cursor

    @property
    def done(self) -> bool:
        """True once the last page has been fetched."""
        return self._done

    def _next_call(self) -> Call[Page[T]]:
        return self._paged.page(self._cursor)

    def _take(self, page: Page[T]) -> None:
        items, after = page
        if after is not None and after == self._cursor:
            raise UnexpectedResponse("the server returned the same cursor twice; stopping instead of looping")
        self.pages += 1
        self._items.extend(items)
        self._cursor = after
        self._done = after is None


class PageIterator(_Pages[T], Iterator[T]):
    """Every item of a paginated read, page after page, to the end."""

    def __init__(self, paged: Paged[T], fetch: Callable[[Call[Page[T]]], Page[T]]) -> None:
        super().__init__(paged)
        self._fetch = fetch

    def __iter__(self) -> PageIterator[T]:
        return self

    def __next__(self) -> T:
        while not self._items:
            if self._done:
                raise StopIteration
            self._take(self._fetch(self._next_call()))
        return self._items.popleft()


class AsyncPageIterator(_Pages[T], AsyncIterator[T]):
    """Every item of a paginated read, page after page, to the end (async)."""

    def __init__(self, paged: Paged[T], fetch: Callable[[Call[Page[T]]], Awaitable[Page[T]]]) -> None:
        super().__init__(paged)
        self._fetch = fetch

    def __aiter__(self) -> AsyncPageIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._items:
            if self._done:
                raise StopAsyncIteration
            self._take(await self._fetch(self._next_call()))
        return self._items.popleft()


class _Tracked:
    token: str | None = None
    """The newest consistency token the stream carried (a watch: its last ``changes_through``)."""


class Stream(_Tracked, Iterator[T]):
    """Items of an NDJSON answer, read as they arrive; opened on the first ``next``."""

    def __init__(self, open_: Callable[[Stream[T]], Iterator[T]]) -> None:
        self._open = open_
        self._items: Iterator[T] | None = None
        self._closed = False

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        if self._items is None:
            self._items = self._open(self)
        return next(self._items)

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._closed = True
        items, self._items = self._items, None
        if items is not None and hasattr(items, "close"):
            items.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_Tracked, AsyncIterator[T]):
    """Items of an NDJSON answer, read as they arrive; opened on the first ``anext`` (async)."""

    def __init__(self, open_: Callable[[AsyncStream[T]], AsyncIterator[T]]) -> None:
        self._open = open_
        self._items: AsyncIterator[T] | None = None
        self._closed = False

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if self._items is None:
            self._items = self._open(self)
        return await anext(self._items)

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        self._closed = True
        items, self._items = self._items, None
        if items is not None and hasattr(items, "aclose"):
            await items.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
