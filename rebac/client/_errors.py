# ruff: noqa: N818 - the names say the failure, as httpx's do (ConnectError, Timeout, NotFound)
"""The client's error tree (drawn in :mod:`rebac.client`'s docstring) and problem-details parsing.

A server's error answer is an RFC 9457 problem (``type``, ``title``, ``status``, ``detail`` and
extension members); :func:`problem_error` picks the most specific :class:`ProblemError` subclass
for it: by ``type`` first (``limit-exceeded``, ``precondition-failed``), then by status. An error
without an HTTP answer (connect, read, timeouts) is a :class:`TransportError`. Nothing here holds
state.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from rebac.errors import RebacError

__all__ = [
    "BadRequest",
    "Conflict",
    "ConnectError",
    "ConnectionLost",
    "EvaluationFailed",
    "Forbidden",
    "LimitExceeded",
    "NotFound",
    "PreconditionFailed",
    "Problem",
    "ProblemError",
    "RebacClientError",
    "ServerError",
    "Timeout",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "UnexpectedResponse",
    "problem_error",
    "problem_of_body",
    "problem_of_response",
]

PROBLEM_BASE: Final = "urn:rebac:problem:"
"""The prefix of rebac's problem type URIs (``urn:rebac:problem:<slug>``)."""

_RFC_MEMBERS: Final = frozenset({"type", "title", "status", "detail"})


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An RFC 9457 problem, as the server sent it.

    Attributes:
        type: The problem type URI (``urn:rebac:problem:limit-exceeded``; ``about:blank`` when the
            answer carried no problem document).
        title: The short, fixed title of the type.
        status: The HTTP status.
        detail: What went wrong this time, for a person.
        extensions: Every other member (``limit``, ``maximum``, ``errors`` ...), unchanged.
    """

    type: str
    title: str
    status: int
    detail: str = ""
    extensions: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The last part of a rebac type URI (``limit-exceeded``), else the whole type."""
        return self.type.removeprefix(PROBLEM_BASE)

    def exception(self) -> ProblemError:
        """The :class:`ProblemError` subclass that stands for this problem."""
        return problem_error(self)


class RebacClientError(RebacError):
    """Root of every error the client raises (a :class:`rebac.errors.RebacError`).

    Attributes:
        attempts: How many times the request was sent before this error (retries included).
    """

    attempts: int = 1


class ProblemError(RebacClientError):
    """The server answered with an error (a problem document).

    Attributes:
        problem: The problem as sent: ``type``, ``title``, ``status``, ``detail``, ``extensions``.
    """

    def __init__(self, problem: Problem) -> None:
        text = f"{problem.status} {problem.title}"
        if problem.detail and problem.detail != problem.title:
            text += f": {problem.detail}"
        super().__init__(text, details=dict(problem.extensions))
        self.problem = problem

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.problem.status

    @property
    def type(self) -> str:
        """The problem type URI."""
        return self.problem.type

    @property
    def title(self) -> str:
        """The problem title."""
        return self.problem.title

    @property
    def detail(self) -> str:
        """The problem detail."""
        return self.problem.detail

    @property
    def extensions(self) -> dict[str, Any]:
        """The extension members."""
        return self.problem.extensions


class BadRequest(ProblemError, ValueError):
    """400: the request is malformed (a bad reference, token or cursor, an unknown type ...)."""


class LimitExceeded(BadRequest):
    """A named server limit was exceeded (``limit``, ``maximum``, ``actual`` in the extensions)."""


class Unauthenticated(ProblemError):
    """401: no API key, or an unknown or revoked one."""


class Forbidden(ProblemError):
    """403: the API key lacks the scope the endpoint needs."""


class NotFound(ProblemError, LookupError):
    """404: the named thing does not exist (no schema yet, an unknown decision or key ...)."""


class Conflict(ProblemError):
    """409: the request conflicts with stored state; nothing was written."""


class PreconditionFailed(Conflict):
    """409 ``precondition-failed``: a write precondition did not hold."""


class EvaluationFailed(ProblemError):
    """422: no decision could be made (depth, budget, caveat or delegation error); a deny."""


class Unavailable(ProblemError):
    """503: the datastore is unavailable, a concurrent write won, or the deadline passed."""


class ServerError(ProblemError):
    """500 or another 5xx: the server failed."""


class TransportError(RebacClientError):
    """No usable HTTP answer: the connection failed, broke, or timed out."""


class ConnectError(TransportError, ConnectionError):
    """The connection could not be established: nothing was sent."""


class ConnectionLost(TransportError, ConnectionError):
    """The connection broke after the request was sent (reset, closed, a truncated stream)."""


class Timeout(TransportError, TimeoutError):
    """A connect, write, read or pool timeout passed."""


class UnexpectedResponse(RebacClientError):
    """The server's answer is not what the API promises (not JSON, a missing member ...)."""


_BY_TYPE: Final[dict[str, type[ProblemError]]] = {
    "limit-exceeded": LimitExceeded,
    "precondition-failed": PreconditionFailed,
}
_BY_STATUS: Final[dict[int, type[ProblemError]]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: EvaluationFailed,
    503: Unavailable,
}


def problem_error(problem: Problem) -> ProblemError:
    """The most specific :class:`ProblemError` for ``problem`` (by type, then by status)."""
    cls = _BY_TYPE.get(problem.slug) or _BY_STATUS.get(problem.status)
    if cls is None:
        cls = ServerError if problem.status >= 500 else ProblemError
    return cls(problem)


def problem_of_body(body: object, status: int, fallback_title: str = "") -> Problem:
    """The problem in a decoded JSON ``body`` (or a stand-in when ``body`` is not a problem)."""
    if not isinstance(body, dict) or not isinstance(body.get("type", "about:blank"), str):
        return Problem(type="about:blank", title=fallback_title or f"HTTP {status}", status=status)
    raw_status = body.get("status")
    return Problem(
        type=str(body.get("type", "about:blank")),
        title=str(body.get("title") or fallback_title or f"HTTP {status}"),
        status=raw_status if isinstance(raw_status, int) and not isinstance(raw_status, bool) else status,
        detail=str(body.get("detail") or ""),
        extensions={k: v for k, v in body.items() if k not in _RFC_MEMBERS},
    )


def problem_of_response(status: int, reason: str, content: bytes) -> Problem:
    """The problem of an error answer: its problem document, or one made from the status line."""
    try:
        body = msgspec.json.decode(content) if content else None
    except msgspec.DecodeError:
        text = content[:200].decode(errors="replace").strip()
        return Problem(type="about:blank", title=reason or f"HTTP {status}", status=status, detail=text)
    return problem_of_body(body, status, reason)
