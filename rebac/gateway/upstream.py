"""The MCP server behind the gateway: streamable HTTP (``--upstream URL``) or stdio (``--upstream-command``).

**HTTP.** A request the gateway lets through is sent on as it came (its body and the MCP headers:
``Content-Type``, ``Accept``, ``Mcp-Session-Id``, ``Mcp-Protocol-Version``, ``Last-Event-ID``,
``Mcp-Method``, ``Mcp-Name``), never with the caller's token: the token is for the gateway (its
audience), and MCP forbids passing it through. The answer comes back as it is, an event stream
streamed.

**stdio.** The gateway starts the command once, initializes the session itself, and answers a
client's ``initialize`` with the server's own result. Each request is written with an id of the
gateway's and its response returned under the client's id, as ``application/json``. Requests the
server sends (sampling, elicitation) are refused, and its notifications dropped: there is no
client session to carry them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import shlex
from typing import Any, Final, Protocol

import httpx
import msgspec

from rebac.gateway.http1 import (
    Http1Pool,
    HttpBrokenError,
    HttpConnectError,
    HttpTimeoutError,
    request_bytes,
)
from rebac.gateway.messages import JSON, Answer, Headers, Incoming, error_answer, json_answer

__all__ = ["HttpUpstream", "StdioUpstream", "Upstream", "UpstreamError"]

log = logging.getLogger("rebac.gateway")

PROTOCOL_VERSION: Final = "2025-06-18"
FIRST_EVENT_SECONDS: Final = 0.05
"""How long an answer whose head came alone is held for its body (then it streams)."""
LAST_EVENT_SECONDS: Final = 0.005
"""How long, once its body began, it is held for its end: a progress event waits at most this."""
_FORWARDED: Final = frozenset(
    {
        b"content-type",
        b"accept",
        b"mcp-session-id",
        b"mcp-protocol-version",
        b"last-event-id",
        b"mcp-method",
        b"mcp-name",
    }
)
_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"proxy-connection",
        b"upgrade",
        b"server",
        b"date",
    }
)
_UNAVAILABLE: Final = -32603
_LINE_LIMIT: Final = 64 * 1024 * 1024
_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder()


class UpstreamError(Exception):
    """The MCP server could not be reached or broke the exchange."""


class Upstream(Protocol):
    """What the proxy needs of the server behind it."""

    async def start(self) -> None:
        """Connect (or start the process)."""

    async def close(self) -> None:
        """Disconnect (or stop the process)."""

    async def exchange(self, verb: str, incoming: Incoming | None, headers: Headers) -> Answer:
        """Send one HTTP exchange (``POST`` with a message, ``GET`` or ``DELETE``) and return the answer."""


class HttpUpstream:
    """A streamable HTTP MCP server (``http://`` on :mod:`rebac.gateway.http1`, ``https://`` on httpx)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url
        self._timeout = timeout
        self._connect_timeout = min(timeout, 5.0)
        self._http: httpx.AsyncClient | None = None
        self._pool: Http1Pool | None = None
        parts = httpx.URL(url)
        self._lean = parts.scheme == "http"
        self._host = parts.netloc
        self._target = parts.raw_path
        self._address = (parts.host, parts.port or 80)

    async def start(self) -> None:
        """Open the connection pool."""
        if self._lean:
            self._pool = Http1Pool(*self._address, max_connections=256, max_idle=64)
            return
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        timeout = httpx.Timeout(self._timeout, connect=self._connect_timeout)
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def exchange(self, verb: str, incoming: Incoming | None, headers: Headers) -> Answer:
        """Forward the exchange; a JSON answer (or one complete already) is read whole, a stream streamed."""
        sent = [(k, v) for k, v in headers if k in _FORWARDED]  # ASGI names are lowercase
        sent.append((b"accept-encoding", b"identity"))
        body = incoming.body if incoming is not None else b""
        if self._pool is not None:
            return await self._exchange(self._pool, verb, sent, body)
        if self._http is None:
            raise UpstreamError("the upstream is not started")
        request = self._http.build_request(verb, self.url, headers=sent, content=body or None)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        back = _kept(response.headers.raw)
        answer = Answer(response.status_code, back, stream=response.aiter_raw(), close=response.aclose)
        if _whole(verb, response.status_code, answer.media):
            try:
                return Answer(response.status_code, back, await response.aread())
            except httpx.HTTPError as exc:
                raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc
            finally:
                await response.aclose()
        return answer

    async def _exchange(self, pool: Http1Pool, verb: str, sent: Headers, body: bytes) -> Answer:
        try:
            framing = [(b"content-length", str(len(body)).encode())] if verb == "POST" else []
            request = request_bytes(
                verb.encode(), self._target, [(b"host", self._host), *sent, *framing], body, framed=True
            )
            response = await pool.send(request, timeout=self._timeout, connect_timeout=self._connect_timeout)
            if not response.complete and verb == "POST":
                await response.settle(FIRST_EVENT_SECONDS, LAST_EVENT_SECONDS)
            back = _kept(response.headers)
            answer = Answer(
                response.status,
                back,
                stream=response.chunks(),
                close=response.aclose,
                ended=lambda: response.complete,
            )
            if response.complete or _whole(verb, response.status, answer.media):
                return Answer(response.status, back, await response.read())
        except (HttpConnectError, HttpBrokenError, HttpTimeoutError, ValueError) as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        return answer


def _kept(headers: Headers) -> Headers:
    """The answer's headers that go back to the client (no hop-by-hop ones)."""
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]


def _whole(verb: str, status: int, media: bytes) -> bool:
    """Whether an answer is read whole: JSON, an error, or anything but a stream to a ``GET``."""
    return media == JSON or status >= 300 or (verb != "GET" and media != b"text/event-stream")


class StdioUpstream:
    """An MCP server run as a child process speaking newline-delimited JSON-RPC on stdio."""

    def __init__(self, command: str, *, timeout: float) -> None:
        self.command = command
        self._timeout = timeout
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._initialized: dict[str, Any] | None = None
        self._write_lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the command and initialize the session."""
        args = shlex.split(self.command)
        if not args:
            raise UpstreamError("--upstream-command is empty")
        self._process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_LINE_LIMIT
        )
        self._reader = asyncio.create_task(self._read())
        init = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "rebac-mcp-gateway", "version": "1"},
        }
        response = await self._request({"jsonrpc": "2.0", "method": "initialize", "params": init})
        if "result" not in response:
            raise UpstreamError(f"the upstream refused to initialize: {response.get('error')}")
        self._initialized = response["result"]
        await self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def close(self) -> None:
        """Stop the process (its stdin closed, then terminated after a grace period)."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def exchange(self, verb: str, incoming: Incoming | None, headers: Headers) -> Answer:  # noqa: ARG002
        """One message to the process; its response as JSON (``GET``/``DELETE``: 405)."""
        if verb != "POST" or incoming is None:
            return Answer(405, [(b"allow", b"POST")])
        message = incoming.message
        if "method" not in message:
            return Answer(202, [])  # a client's response: nothing asked it of this session
        if message["method"] == "initialize" and "id" in message:
            return json_answer({"jsonrpc": "2.0", "id": message["id"], "result": self._initialized})
        if "id" not in message:
            if message["method"] != "notifications/initialized":
                await self._write(message)
            return Answer(202, [])
        response = await self._request({**message})
        response["id"] = message["id"]
        return json_answer(response)

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._process is None or self._process.returncode is not None:
            raise UpstreamError("the upstream process is not running")
        gid = f"rebac-gw-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[gid] = future
        try:
            await self._write({**message, "id": gid})
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError as exc:
            raise UpstreamError(f"the upstream did not answer within {self._timeout:g} s") from exc
        finally:
            self._pending.pop(gid, None)

    async def _write(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None:
            raise UpstreamError("the upstream process is not running")
        async with self._write_lock:
            try:
                process.stdin.write(_ENCODER.encode(message) + b"\n")
                await process.stdin.drain()
            except (ConnectionError, RuntimeError) as exc:
                raise UpstreamError(f"the upstream process closed its input: {exc}") from exc

    async def _read(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        stdout = process.stdout
        try:
            while line := await stdout.readline():
                await self._dispatch(line)
        except (ValueError, asyncio.LimitOverrunError) as exc:
            log.error("the upstream wrote an unreadable line: %s", exc)  # noqa: TRY400
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(UpstreamError("the upstream process exited"))

    async def _dispatch(self, line: bytes) -> None:
        try:
            message = _DECODER.decode(line)
        except msgspec.DecodeError:
            log.warning("the upstream wrote a line that is not JSON (ignored)")
            return
        if not isinstance(message, dict):
            return
        mid = message.get("id")
        if "method" not in message:
            future = self._pending.get(mid) if isinstance(mid, str) else None
            if future is not None and not future.done():
                future.set_result(message)
            return
        if mid is not None:  # a request of the server's: no client session can answer it
            refusal = {"code": -32601, "message": "not available through the rebac gateway"}
            await self._write({"jsonrpc": "2.0", "id": mid, "error": refusal})


def unavailable(request_id: Any, exc: Exception) -> Answer:
    """The answer when the upstream failed (502, a JSON-RPC error)."""
    return error_answer(
        request_id, {"code": _UNAVAILABLE, "message": f"the MCP server is unavailable: {exc}"}, 502
    )
