"""The error mapping over HTTP: every failure is a problem response with its documented status and type.

A tiny Litestar app with the project's exception handlers (no store: these are the mapping's own
rules) raises each kind of error; the status, the stable type, the extension members the
documentation names and the headers are asserted as a client sees them. Written to kill the
mutants of ``rebac/api/problems.py`` (see docs/mutation.md).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.testing import TestClient

from rebac import errors
from rebac.api.problems import (
    PROBLEM_MEDIA_TYPE,
    ProblemDetails,
    exception_handlers,
    problem_for,
    problem_responses,
    problem_responses_for,
)

_SECRET = "postgresql://rebac:hunter2@db/rebac"  # noqa: S105 - the secret that must not leak


def _raiser(exc: Exception) -> Any:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise exc

    return boom


def _answer(exc: Exception) -> Any:
    app = Litestar([_raiser(exc)], exception_handlers=exception_handlers())
    with TestClient(app) as client:
        return client.get("/boom")


def _validation(extra: Any) -> ValidationException:
    return ValidationException("Validation failed for POST /v1/permissions/check", extra=extra)


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (errors.CaveatEvaluationError("caveat 'c' failed"), 422, "caveat-evaluation-failed"),
        (errors.DeadlineExceededError("too slow"), 503, "deadline-exceeded"),
        (errors.StoreUnavailableError("down"), 503, "store-unavailable"),
        (errors.UnauthenticatedError("no key"), 401, "unauthenticated"),
        (errors.ForbiddenError("no scope"), 403, "forbidden"),
        (HTTPException(status_code=404, detail="no route"), 404, "not-found"),
        (HTTPException(status_code=405, detail="no such method"), 405, "method-not-allowed"),
        (HTTPException(status_code=401, detail="who"), 401, "unauthenticated"),
        (HTTPException(status_code=403, detail="no"), 403, "forbidden"),
        (HTTPException(status_code=429, detail="slow down"), 429, "http-error"),
        (HTTPException(status_code=415, detail="not JSON"), 415, "unsupported-media-type"),
        (HTTPException(status_code=413, detail="big"), 413, "limit-exceeded"),
        (
            _validation([{"message": "Object contains unknown field `consistncy`", "key": "consistncy"}]),
            400,
            "invalid-request",
        ),
    ],
)
def test_every_error_is_a_problem_with_its_documented_status_and_type(
    exc: Exception, status: int, slug: str
) -> None:
    response = _answer(exc)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["type"] == f"urn:rebac:problem:{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)


@pytest.mark.parametrize("detail", ["not JSON", "slow down", "no such method"])
def test_an_http_error_keeps_its_detail(detail: str) -> None:
    for status in (415, 429, 405):
        assert _answer(HTTPException(status_code=status, detail=detail)).json()["detail"] == detail


def test_an_http_error_without_a_detail_still_has_a_title() -> None:
    exc = HTTPException(status_code=429)
    exc.detail = ""
    body = problem_for(exc).body()
    assert body["status"] == 429
    assert isinstance(body["title"], str)
    assert body["title"]


def test_a_body_too_large_names_the_limit() -> None:
    body = _answer(HTTPException(status_code=413, detail="Request Entity Too Large")).json()
    assert body["limit"] == "MAX_REQUEST_BYTES"
    assert body["detail"]


def test_a_validation_problem_names_the_field_and_lists_the_errors() -> None:
    found = {"message": "Object contains unknown field `consistncy`", "key": "consistncy"}
    body = _answer(_validation([found, {"message": "Expected `str`", "key": "subject"}])).json()
    assert "consistncy" in body["detail"]
    assert body["errors"] == [found, {"message": "Expected `str`", "key": "subject"}]


@pytest.mark.parametrize("extra", [None, [], {"message": "not a list"}, ["not a dict"]])
def test_a_validation_problem_without_usable_errors_says_what_failed(extra: Any) -> None:
    body = _answer(_validation(extra)).json()
    assert body["status"] == 400
    assert body["type"] == "urn:rebac:problem:invalid-request"
    assert body["detail"] == "Validation failed for POST /v1/permissions/check"
    assert "errors" not in body


def test_a_validation_error_without_a_message_falls_back_to_the_detail() -> None:
    body = _answer(_validation([{"other": 1}])).json()
    assert body["detail"] == "Validation failed for POST /v1/permissions/check"
    assert body["errors"] == [{"message": "", "key": ""}]


def test_a_401_says_how_to_authenticate_and_nothing_else_does() -> None:
    for exc in (errors.UnauthenticatedError("no key"), HTTPException(status_code=401, detail="who")):
        challenge = _answer(exc).headers.get("www-authenticate", "")
        scheme, _, params = challenge.partition(" ")
        assert scheme.lower() == "bearer"  # the auth scheme is case-insensitive (RFC 9110 §11.1)
        assert params == 'realm="rebac"'
    for other in (errors.ForbiddenError("no scope"), HTTPException(status_code=402, detail="pay")):
        assert "www-authenticate" not in _answer(other).headers


def test_the_headers_of_an_http_error_are_kept() -> None:
    response = _answer(HTTPException(status_code=429, detail="slow", headers={"Retry-After": "3"}))
    assert response.headers["retry-after"] == "3"
    response = _answer(HTTPException(status_code=401, detail="who", headers={"WWW-Authenticate": "Basic"}))
    assert response.headers["www-authenticate"] == "Basic"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _logged(exc: Exception) -> tuple[Any, list[str]]:
    """The response to ``exc`` and what the ``rebac.api`` logger said meanwhile (Litestar's
    logging setup stops propagation, so the handler sits on the logger itself)."""
    records = _Records()
    logger = logging.getLogger("rebac.api")
    logger.addHandler(records)
    try:
        return _answer(exc), records.messages
    finally:
        logger.removeHandler(records)


def test_an_unknown_error_is_a_500_that_logs_its_type_and_route_only() -> None:
    response, logged = _logged(RuntimeError(f"could not connect to {_SECRET}"))
    assert response.status_code == 500
    assert response.json()["type"] == "urn:rebac:problem:internal"
    assert "hunter2" not in response.text
    assert logged == ["unhandled RuntimeError on GET /boom"]


def test_a_mapped_error_is_not_logged_as_unhandled() -> None:
    response, logged = _logged(errors.CaveatEvaluationError("failed"))
    assert response.status_code == 422
    assert logged == []


def test_the_openapi_error_responses_are_problem_details() -> None:
    assert sorted(problem_responses()) == [400, 401, 403, 404, 413, 503]
    assert sorted(problem_responses(422, 409)) == [400, 401, 403, 404, 409, 413, 422, 503]
    assert sorted(problem_responses_for(404, 400, 404)) == [400, 404]
    for status, spec in {**problem_responses(409, 415, 422), **problem_responses_for(401)}.items():
        assert spec.data_container is ProblemDetails
        assert spec.media_type == PROBLEM_MEDIA_TYPE
        assert spec.description
        assert spec.generate_examples is False, status


def test_echoes_keep_exactly_the_documented_number_of_characters() -> None:
    # docs/api.md: at most 200 characters of any value, the detail 400, then the length
    exact = problem_for(errors.InvalidInputError("d" * 400, details={"id": "i" * 200})).body()
    assert exact["detail"] == "d" * 400
    assert exact["id"] == "i" * 200
    over = problem_for(errors.InvalidInputError("d" * 401, details={"id": "i" * 201})).body()
    assert over["detail"].startswith("d" * 400)
    assert not over["detail"].startswith("d" * 401)
    assert "(401 characters)" in over["detail"]
    assert over["id"].startswith("i" * 200)
    assert not over["id"].startswith("i" * 201)
    assert "(201 characters)" in over["id"]


def test_listed_values_are_kept_item_by_item() -> None:
    body = problem_for(errors.InvalidInputError("bad", details={"items": ["a", {"b": 1}, 2]})).body()
    assert body["items"] == ["a", {"b": 1}, 2]


def test_an_unknown_error_has_a_detail_that_reveals_nothing() -> None:
    body = _answer(ValueError(_SECRET)).json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "hunter2" not in body["detail"]
