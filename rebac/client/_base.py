"""What the sync and async clients share: configuration, answers to values, retries, decisions.

The two clients differ only in how they wait and send; every rule lives here once: which errors
are retried (:func:`retry_delay`), how an httpx failure becomes a client error
(:func:`transport_error`), how an answer becomes a value or a problem (:meth:`Core.finish`), and how
an outcome becomes a fail-closed :class:`~rebac.client.Decision` (:func:`decision_of`).
"""

from __future__ import annotations

import ssl
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

import msgspec

from rebac import __version__
from rebac.client._call import Call, StreamCall
from rebac.client._config import DEFAULT_RETRY, Idempotency, Retry, Timeouts
from rebac.client._errors import (
    ConnectError,
    ConnectionLost,
    ProblemError,
    RebacClientError,
    Timeout,
    TransportError,
    Unavailable,
    UnexpectedResponse,
    problem_error,
    problem_of_response,
)
from rebac.client._models import BulkCheck, CheckResult, Decision, Permissionship, Reason
from rebac.client._raw import RawAnswer
from rebac.client._tokens import Tokens

if TYPE_CHECKING:
    import httpx

__all__ = [
    "USER_AGENT",
    "Core",
    "TimeoutLike",
    "bulk_items",
    "decision_of",
    "decision_of_error",
    "retry_delay",
    "transport_error",
    "unverified_tls",
]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

USER_AGENT: Final = f"rebac-python/{__version__}"

TimeoutLike: TypeAlias = "float | httpx.Timeout | Timeouts | None"
"""Seconds for every phase, an ``httpx.Timeout`` (or :class:`Timeouts`), or ``None`` (none at all)."""


def transport_error(exc: httpx.TransportError, url: object = "") -> TransportError:
    """The client error for an httpx transport failure."""
    import httpx  # noqa: PLC0415 - loaded by then: the failure came from it

    where = f" {url}" if url else ""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"timed out talking to{where} ({text})")
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(f"could not connect to{where} ({text})")
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError | httpx.CloseError):
        return ConnectionLost(f"the connection to{where} broke ({text})")
    return TransportError(f"transport error with{where} ({text})")


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def retry_delay(
    policy: Retry,
    idempotency: Idempotency,
    attempt: int,
    error: RebacClientError,
    headers: Mapping[str, str] | None = None,
) -> float | None:
    """Seconds to wait before sending again after ``attempt`` tries, or ``None``: do not retry.

    Reads are retried on 503 and on connection errors; writes only when the server certainly did
    not act (no connection; 503 ``serialization-failure``); timeouts and streamed uploads never.
    """
    if attempt >= policy.attempts or idempotency is Idempotency.NEVER:
        return None
    if isinstance(error, ConnectError):
        retry = True
    elif isinstance(error, ConnectionLost):
        retry = idempotency is Idempotency.READ
    elif isinstance(error, Unavailable):
        retry = idempotency is Idempotency.READ or error.problem.slug == "serialization-failure"
    else:
        retry = False
    return policy.delay(attempt, _retry_after(headers)) if retry else None


def decision_of(result: CheckResult) -> Decision:
    """A check's answer as a fail-closed decision (only ``HAS_PERMISSION`` allows)."""
    common: dict[str, Any] = {
        "permissionship": result.permissionship,
        "decision_id": result.decision_id,
        "missing_context": result.missing_context,
        "delegation": result.delegation,
        "checked_at": result.checked_at,
    }
    if result.permissionship is Permissionship.HAS_PERMISSION:
        return Decision(allowed=True, reason=Reason.GRANTED, **common)
    hop = result.failed_hop
    if hop is not None and (hop.depth > 0 or hop.reason != "denied"):
        return Decision(
            allowed=False, reason=Reason.DELEGATION, detail=f"{hop.subject}: {hop.reason}", **common
        )
    if result.permissionship is Permissionship.CONDITIONAL_PERMISSION:
        missing = ", ".join(result.missing_context) or "unknown"
        return Decision(
            allowed=False, reason=Reason.CONDITIONAL, detail=f"missing context: {missing}", **common
        )
    return Decision(allowed=False, reason=Reason.DENIED, **common)


def decision_of_error(exc: Exception) -> Decision:
    """A failed check as a decision: always a deny, with the reason."""
    if isinstance(exc, Timeout) or (isinstance(exc, Unavailable) and exc.problem.slug == "deadline-exceeded"):
        reason = Reason.TIMEOUT
    elif isinstance(exc, TransportError | Unavailable):
        reason = Reason.OUTAGE
    else:
        reason = Reason.ERROR
    return Decision(allowed=False, reason=reason, detail=f"{type(exc).__name__}: {exc}", error=exc)


def bulk_items(items: Mapping[K, BulkCheck] | Iterable[tuple[K, BulkCheck]]) -> list[tuple[K, BulkCheck]]:
    """``items`` as ``(correlation id, check)`` pairs; an id given twice is a ``ValueError``."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    seen: set[K] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"correlation id {key!r} is used twice")
        seen.add(key)
    return pairs


def unverified_tls(base_url: str) -> ssl.SSLContext | None:
    """For a plain ``http://`` server: a TLS context with no trusted certificates, else ``None``.

    httpx builds a verifying context (it loads the CA bundle, about 70 ms) for every client even
    when nothing speaks TLS. An ``http://`` base URL needs none; should a connection ever try TLS
    anyway, this context trusts nothing, so it fails closed.
    """
    if not base_url.lower().startswith("http://"):
        return None
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates; trusts none


def _timeout(value: TimeoutLike) -> httpx.Timeout:
    import httpx  # noqa: PLC0415 - httpx loads with the first client, not with the SDK

    if isinstance(value, Timeouts):
        return value.as_httpx()
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)


class Core:
    """The state both clients hold: where the server is, how to call it, the freshness token."""

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None,
        timeout: TimeoutLike,
        retry: Retry | None,
        read_your_writes: bool,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = _timeout(timeout)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.tokens = Tokens(enabled=read_your_writes)
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def request(self, call: Call[Any] | StreamCall[Any], timeout: TimeoutLike = None) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client.build_request`` for ``call`` (``timeout``: this call's)."""
        chosen = _timeout(call.timeout) if call.timeout is not None else self.timeout
        if timeout is not None:
            chosen = _timeout(timeout)
        out: dict[str, Any] = {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": call.params,
            "timeout": chosen,
        }
        if isinstance(call, Call):
            out["headers"] = dict(call.headers) if call.headers else None
            if call.content is not None:
                out["content"] = call.content
            elif call.json is not None:
                out["json"] = call.json
        else:
            out["headers"] = {"Accept": "application/x-ndjson"}
            if call.json is not None:
                out["json"] = call.json
        return out

    def problem(self, response: RawAnswer) -> ProblemError:
        """The error of a non-2xx answer whose body has been read."""
        return problem_error(
            problem_of_response(response.status_code, response.reason_phrase, response.content)
        )

    def finish(self, call: Call[T], response: RawAnswer) -> T:
        """The value of a read answer (remembering its token), or its problem raised."""
        if response.status_code >= 400:
            raise self.problem(response)
        try:
            value = call.decode(response.content)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, KeyError, TypeError) as exc:
            raise UnexpectedResponse(f"{call.method} {call.path}: unexpected answer ({exc})") from exc
        if call.token is not None:
            self.tokens.observe(call.token(value))
        return value

    def refused_auto_token(self, call: Call[Any] | StreamCall[Any], error: ProblemError) -> bool:
        """True when the server refused the read-your-writes token this call carried."""
        if call.auto_token is None or error.problem.slug != "invalid-token":
            return False
        self.tokens.forget(call.auto_token)
        return True

    def line(self, call: StreamCall[T], raw: str) -> T | None:
        """One stream line as an item (``None``: skip), remembering its token; a problem line raises."""
        if not raw.strip():
            return None
        try:
            item = call.line(raw)
        except ProblemError:
            raise
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, KeyError, TypeError) as exc:
            raise UnexpectedResponse(f"{call.method} {call.path}: unexpected line ({exc})") from exc
        if item is not None and call.token is not None:
            self.tokens.observe(call.token(item))
        return item
