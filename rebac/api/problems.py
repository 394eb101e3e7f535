"""The ONE map from errors to RFC 9457 problem details (``application/problem+json``).

Every error a request can end in goes through :func:`problem_for`: a :class:`~rebac.errors.RebacError`
is looked up by its class (most specific first) in :data:`PROBLEMS`; Litestar's own HTTP errors
(validation, unknown route, body too large) get a stable type too; anything else becomes a 500
that says nothing about the internals. The public ``message`` and ``details`` of rebac errors are
written to be shown (they never carry secrets or DSNs).

Bad input is echoed in part only: every string of a problem (its ``detail`` and any extension
member, nested ones included) keeps at most :data:`ECHO_LIMIT` characters and then says how long
it was, and a list keeps at most :data:`ECHO_ITEMS` items, so a 100k-character id or a 5 MB import
line gives a small error body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from rebac import errors

__all__ = [
    "ECHO_ITEMS",
    "ECHO_LIMIT",
    "PROBLEMS",
    "PROBLEM_MEDIA_TYPE",
    "UNSUPPORTED_MEDIA_TYPE",
    "Problem",
    "ProblemDetails",
    "ProblemType",
    "clip",
    "exception_handlers",
    "handle_exception",
    "problem_for",
    "problem_response",
    "problem_responses",
    "problem_responses_for",
]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
ECHO_LIMIT: Final = 200
"""Characters of one string of a problem kept before it is cut (``detail``: twice as many)."""
ECHO_ITEMS: Final = 100
"""Items of one list of a problem kept before it is cut (the orphan scan lists up to 100 offenders)."""
_BASE: Final = "urn:rebac:problem:"
_LOG = logging.getLogger("rebac.api")


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One row of the table: HTTP status, stable type URI and title."""

    status: int
    type: str
    title: str


def _row(status: int, slug: str, title: str) -> ProblemType:
    return ProblemType(status, _BASE + slug, title)


PROBLEMS: Final[tuple[tuple[type[errors.RebacError], ProblemType], ...]] = (
    (errors.RefSyntaxError, _row(400, "malformed-reference", "Malformed object, subject or relationship")),
    (errors.InvalidTokenError, _row(400, "invalid-token", "Invalid consistency token or cursor")),
    (errors.LimitExceededError, _row(400, "limit-exceeded", "A request limit was exceeded")),
    (errors.SchemaError, _row(400, "schema-invalid", "The schema does not compile")),
    (errors.ValidationFileError, _row(400, "validation-file-invalid", "Malformed validation file")),
    (errors.InvalidInputError, _row(400, "invalid-input", "Invalid request")),
    (errors.UnknownTypeError, _row(400, "unknown-type", "Unknown object type")),
    (errors.UnknownRelationError, _row(400, "unknown-relation", "Unknown relation or permission")),
    (errors.UnknownCaveatError, _row(400, "unknown-caveat", "Unknown caveat")),
    (errors.SchemaVersionNotFoundError, _row(404, "schema-not-found", "Schema version not found")),
    (errors.NotFoundError, _row(404, "not-found", "Not found")),
    (errors.PreconditionFailedError, _row(409, "precondition-failed", "A write precondition failed")),
    (errors.DuplicateRelationshipError, _row(409, "duplicate-relationship", "Relationship already exists")),
    (errors.UnsafeSchemaChangeError, _row(409, "unsafe-schema-change", "Schema change would orphan data")),
    (errors.SchemaVersionConflictError, _row(409, "schema-version-conflict", "Schema changed concurrently")),
    (errors.ConflictError, _row(409, "conflict", "Conflict with stored state")),
    (errors.StoreUnavailableError, _row(503, "store-unavailable", "The datastore is unavailable")),
    (errors.RevisionUnavailableError, _row(400, "revision-unavailable", "The revision is not available")),
    (errors.SerializationFailureError, _row(503, "serialization-failure", "Concurrent write; retry")),
    (errors.StoreError, _row(503, "store-error", "The datastore failed")),
    (errors.MaxDepthExceededError, _row(422, "max-depth-exceeded", "Maximum evaluation depth exceeded")),
    (errors.DeadlineExceededError, _row(503, "deadline-exceeded", "The evaluation deadline passed")),
    (errors.BudgetExceededError, _row(422, "budget-exceeded", "An evaluation budget was exhausted")),
    (errors.CaveatEvaluationError, _row(422, "caveat-evaluation-failed", "A caveat could not be evaluated")),
    (errors.DelegationError, _row(422, "delegation-error", "The delegation chain could not be evaluated")),
    (errors.EvaluationError, _row(422, "evaluation-failed", "No decision could be made")),
    (errors.UnauthenticatedError, _row(401, "unauthenticated", "Missing or invalid API key")),
    (errors.ForbiddenError, _row(403, "forbidden", "The API key lacks the required scope")),
    (errors.SubjectRequiredError, _row(403, "subject-required", "The API key acts for no subject")),
    (errors.NotPermittedError, _row(403, "not-permitted", "The key's subject may not do this")),
    (errors.AuthError, _row(403, "forbidden", "Not allowed")),
    (errors.RebacError, _row(400, "error", "Request failed")),
)
"""Most specific class first; the first ``isinstance`` match wins."""

INVALID_REQUEST: Final = _row(400, "invalid-request", "The request body or parameters are invalid")
BODY_TOO_LARGE: Final = _row(413, "limit-exceeded", "A request limit was exceeded")
UNSUPPORTED_MEDIA_TYPE: Final = _row(415, "unsupported-media-type", "The request body must be JSON")
INTERNAL: Final = _row(500, "internal", "Internal server error")


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text``, or its first ``limit`` characters, an ellipsis and its length when longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _clipped(value: Any) -> Any:
    """``value`` with every string clipped and every list cut to :data:`ECHO_ITEMS` (any depth)."""
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, dict):
        return {clip(str(k)): _clipped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clipped(v) for v in value[:ECHO_ITEMS]]
    return value


@dataclass(frozen=True, slots=True)
class Problem:
    """A rendered problem: its row, the public detail and extension members."""

    kind: ProblemType
    detail: str
    extensions: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The JSON object (RFC 9457 members first, then extensions)."""
        out: dict[str, Any] = {
            "type": self.kind.type,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
        }
        for key, value in self.extensions.items():
            out.setdefault(key, value)
        return out


def _for_rebac(exc: errors.RebacError) -> Problem:
    for cls, kind in PROBLEMS:
        if isinstance(exc, cls):
            return Problem(kind, exc.message, _clipped(dict(exc.details)))
    return Problem(INTERNAL, "internal server error", {})  # pragma: no cover - RebacError row catches all


def _for_http(exc: HTTPException) -> Problem:
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        found = [
            {"message": clip(str(item.get("message", ""))), "key": clip(str(item.get("key", "")))}
            for item in extra[:ECHO_ITEMS]
            if isinstance(item, dict)
        ]
        # The first error names the field (an unknown one, a missing one, a wrong type) and where.
        detail = found[0]["message"] if found and found[0]["message"] else str(exc.detail)
        return Problem(INVALID_REQUEST, detail, {"errors": found} if found else {})
    if exc.status_code == 415:
        return Problem(UNSUPPORTED_MEDIA_TYPE, str(exc.detail), {})
    if exc.status_code == 413:
        return Problem(BODY_TOO_LARGE, "the request body is too large", {"limit": "MAX_REQUEST_BYTES"})
    status = exc.status_code
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated", 403: "forbidden"}.get(
        status, "http-error"
    )
    title = clip(str(exc.detail)) or "HTTP error"
    return Problem(_row(status, slug, title), str(exc.detail), {})


def problem_for(exc: BaseException) -> Problem:
    """The problem for any exception; unknown ones become a 500 that reveals nothing.

    The detail and every extension string are clipped (see the module docstring).
    """
    if isinstance(exc, errors.RebacError):
        found = _for_rebac(exc)
    elif isinstance(exc, HTTPException):
        found = _for_http(exc)
    else:
        return Problem(INTERNAL, "internal server error", {})
    return Problem(found.kind, clip(found.detail, 2 * ECHO_LIMIT), found.extensions)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[Any]:
    """A Litestar response carrying ``problem`` as ``application/problem+json``."""
    extra = dict(headers or {})
    if problem.kind.status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="rebac"')
    return Response(
        content=problem.body(),
        status_code=problem.kind.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=extra,
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The app's exception handler: ``exc`` as a problem response (a 500 is logged, type and route only)."""
    problem = problem_for(exc)
    if problem.kind is INTERNAL:
        # The type and route only: messages of foreign exceptions may quote connection strings.
        _LOG.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return problem_response(problem, headers)


class ProblemDetails(msgspec.Struct):
    """RFC 9457 problem details (the OpenAPI shape; extension members such as ``limit`` may follow)."""

    type: str
    title: str
    status: int
    detail: str


_DESCRIPTIONS: Final = {
    400: "Invalid request (problem details)",
    401: "Missing or invalid API key",
    403: "The API key lacks the scope, or its subject may not do this",
    404: "Not found (e.g. no schema yet)",
    409: "Conflict with stored state",
    413: "Request body too large",
    415: "The request body is not JSON",
    422: "No decision could be made (fail closed)",
    503: "Datastore unavailable or deadline passed",
}


def problem_responses(*extra: int) -> dict[int, ResponseSpec]:
    """OpenAPI error responses of an authenticated endpoint (plus ``extra`` statuses)."""
    return problem_responses_for(400, 401, 403, 404, 413, 503, *extra)


def problem_responses_for(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI problem responses of exactly ``statuses``."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted(set(statuses))
    }


def exception_handlers() -> dict[type[Exception] | int, Any]:
    """Handlers for the app: every exception class goes through :func:`problem_for`."""
    return {Exception: handle_exception, HTTPException: handle_exception, errors.RebacError: handle_exception}
