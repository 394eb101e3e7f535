"""How the console answers a refusal or an error: an HTML page, or a redirect to sign in.

Service errors keep the one mapping of :func:`rebac.api.problems.problem_for` (its status and
detail); only their rendering differs from the API's problem details.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap

from rebac.api.problems import problem_for
from rebac.errors import RebacError

__all__ = ["CsrfRefusedError", "SignInRequiredError", "console_exception_handlers"]

_LOG: Final = logging.getLogger("rebac.console")
LOGIN_PATH: Final = "/console/login"


class SignInRequiredError(Exception):
    """No valid session: a page redirects to the sign-in form (htmx follows ``HX-Redirect``)."""


class CsrfRefusedError(Exception):
    """A state change without the session's CSRF token: refused, nothing changes."""


def _sign_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    if request.headers.get("hx-request") == "true":
        return Response(b"", status_code=401, headers={"HX-Redirect": LOGIN_PATH})
    if request.method == "GET":
        return Redirect(f"{LOGIN_PATH}?next={request.url.path}", status_code=HTTP_303_SEE_OTHER)
    return _page(request, 401, "Sign-in required", "Your session has ended; sign in again.")


def _csrf(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return _page(request, 403, "Refused", "The form's CSRF token is missing or wrong; nothing was changed.")


def _problem(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    problem = problem_for(exc)
    if problem.kind.status >= 500:
        _LOG.error("console %s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return _page(request, problem.kind.status, problem.kind.title, problem.detail)


def _page(request: Request[Any, Any, Any], status: int, title: str, detail: str) -> Response[Any]:
    partial = request.headers.get("hx-request") == "true"
    return Template(
        template_name="_error_fragment.html" if partial else "error.html",
        context={
            "status": status,
            "title": title,
            "detail": detail,
            "me": getattr(request.state, "console", None),
        },
        status_code=status,
        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"} if partial else None,
    )


def console_exception_handlers() -> ExceptionHandlersMap:
    """The console router's exception handlers (every error is a page, never a JSON problem)."""
    return {
        SignInRequiredError: _sign_in,
        CsrfRefusedError: _csrf,
        RebacError: _problem,
        HTTPException: _problem,
        Exception: _problem,
    }
