"""The one problem-details table: every error class has a stable row; unknown errors reveal nothing."""

from __future__ import annotations

import inspect

import pytest
from litestar.exceptions import NotFoundException, ValidationException

from rebac import errors
from rebac.api.problems import INTERNAL, PROBLEMS, problem_for

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.RebacError) and cls is not errors.RebacError
]


def _instance(cls: type[errors.RebacError]) -> errors.RebacError:
    if issubclass(cls, errors.RefSyntaxError):
        return cls("bad", text="x", part="relation")
    if issubclass(cls, errors.LimitExceededError):
        return cls("too many", limit="L", maximum=1, actual=2)
    if issubclass(cls, errors.SchemaError):
        return cls([errors.Diagnostic("oops", "<schema>", 1, 2)])
    if issubclass(cls, errors.SchemaVersionConflictError):
        return cls("raced", expected=1, actual=2)
    if issubclass(cls, errors.ValidationFileError):
        return cls("oops", source="f.yaml", line=1)
    return cls("public message")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=[c.__name__ for c in ERROR_CLASSES])
def test_every_error_class_has_a_specific_row(cls: type[errors.RebacError]) -> None:
    problem = problem_for(_instance(cls))
    assert problem.kind.status in {400, 401, 403, 404, 409, 422, 503}
    assert problem.kind.type.startswith("urn:rebac:problem:")
    rows = [c for c, _ in PROBLEMS]
    assert cls in rows, f"{cls.__name__} needs its own row (or a deliberate parent row)"


def test_rows_are_ordered_most_specific_first() -> None:
    classes = [c for c, _ in PROBLEMS]
    for index, cls in enumerate(classes):
        for later in classes[index + 1 :]:
            assert not issubclass(later, cls), f"{later.__name__} is shadowed by {cls.__name__}"


def test_types_are_unique_per_status() -> None:
    seen: dict[str, int] = {}
    for _, kind in PROBLEMS:
        assert seen.setdefault(kind.type, kind.status) == kind.status


def test_details_become_extension_members() -> None:
    body = problem_for(errors.LimitExceededError("too many", limit="MAX_X", maximum=3, actual=4)).body()
    assert body == {
        "type": "urn:rebac:problem:limit-exceeded",
        "title": "A request limit was exceeded",
        "status": 400,
        "detail": "too many",
        "limit": "MAX_X",
        "maximum": 3,
        "actual": 4,
    }


def test_unknown_errors_reveal_nothing() -> None:
    secret = "postgresql://rebac:hunter2@db/rebac"  # noqa: S105 - the secret under test
    problem = problem_for(RuntimeError(f"could not connect to {secret}"))
    assert problem.kind is INTERNAL
    assert "hunter2" not in str(problem.body())
    assert problem.body()["status"] == 500


def test_litestar_errors_get_stable_types() -> None:
    invalid = problem_for(ValidationException("bad body", extra=[{"message": "missing `x`", "key": "data"}]))
    assert invalid.body()["type"] == "urn:rebac:problem:invalid-request"
    assert invalid.body()["errors"] == [{"message": "missing `x`", "key": "data"}]
    assert problem_for(NotFoundException()).body()["status"] == 404
