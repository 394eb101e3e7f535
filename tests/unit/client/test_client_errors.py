"""The client's error tree: the drawing in ``rebac.client``'s docstring is the class hierarchy."""

from __future__ import annotations

import builtins
import re

import pytest

import rebac.client as sdk
from rebac.client import (
    BadRequest,
    Conflict,
    EvaluationFailed,
    Forbidden,
    LimitExceeded,
    NotFound,
    PreconditionFailed,
    Problem,
    ProblemError,
    RebacClientError,
    ServerError,
    Unauthenticated,
    Unavailable,
)
from rebac.client._errors import problem_of_body, problem_of_response
from rebac.errors import RebacError

_LINE = re.compile(r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z][A-Za-z]+)(?: \((?P<builtin>[A-Za-z]+)\))?")


def _drawn_tree() -> dict[str, tuple[str | None, str | None]]:
    """``{class: (drawn parent, drawn builtin)}`` from the docstring's ASCII tree."""
    doc = sdk.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: list[tuple[int, str]] = []
    drawn: dict[str, tuple[str | None, str | None]] = {}
    for line in block.splitlines():
        found = _LINE.match(line.strip("\n")[4:])
        assert found is not None, line
        depth = len(found["indent"])
        while parents and parents[-1][0] >= depth:
            parents.pop()
        drawn[found["name"]] = (parents[-1][1] if parents else None, found["builtin"])
        parents.append((depth, found["name"]))
    return drawn


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    drawn = _drawn_tree()
    errors = {
        name
        for name in sdk.__all__
        if isinstance(getattr(sdk, name), type) and issubclass(getattr(sdk, name), RebacClientError)
    }
    assert set(drawn) == errors
    for name, (parent, builtin) in drawn.items():
        cls = getattr(sdk, name)
        if parent is None:
            assert cls.__bases__ == (RebacError,)
            continue
        assert cls.__bases__[0] is getattr(sdk, parent), name
        if builtin is not None:
            assert issubclass(cls, getattr(builtins, builtin)), name


@pytest.mark.parametrize(
    ("status", "slug", "expected"),
    [
        (400, "unknown-type", BadRequest),
        (400, "limit-exceeded", LimitExceeded),
        (413, "limit-exceeded", LimitExceeded),
        (401, "unauthenticated", Unauthenticated),
        (403, "forbidden", Forbidden),
        (404, "schema-not-found", NotFound),
        (409, "duplicate-relationship", Conflict),
        (409, "precondition-failed", PreconditionFailed),
        (422, "max-depth-exceeded", EvaluationFailed),
        (503, "store-unavailable", Unavailable),
        (500, "internal", ServerError),
        (502, "bad-gateway", ServerError),
        (405, "method-not-allowed", ProblemError),
    ],
)
def test_problems_map_to_the_most_specific_error(
    status: int, slug: str, expected: type[ProblemError]
) -> None:
    body = {
        "type": f"urn:rebac:problem:{slug}",
        "title": "T",
        "status": status,
        "detail": "D",
        "limit": "MAX_X",
        "maximum": 3,
    }
    error = problem_of_body(body, status).exception()
    assert type(error) is expected
    assert (error.status, error.type, error.title, error.detail) == (status, body["type"], "T", "D")
    assert error.extensions == {"limit": "MAX_X", "maximum": 3}
    assert error.details == error.extensions
    assert isinstance(error, RebacError)
    assert str(error) == f"{status} T: D"


def test_an_answer_without_a_problem_document_still_becomes_a_problem() -> None:
    html = problem_of_response(502, "Bad Gateway", b"<html>proxy down</html>")
    assert html == Problem(
        type="about:blank", title="Bad Gateway", status=502, detail="<html>proxy down</html>"
    )
    assert isinstance(html.exception(), ServerError)
    empty = problem_of_response(503, "Service Unavailable", b"")
    assert (empty.type, empty.status, empty.title) == ("about:blank", 503, "Service Unavailable")
    odd = problem_of_body(["not", "an", "object"], 400)
    assert (odd.status, odd.type) == (400, "about:blank")
