"""Sign-in and sign-out: an ``admin``-scoped API key is exchanged for a session cookie.

The sign-in form is protected by a double-submit token (a signed short-lived cookie and the same
token in a hidden field), so another site cannot sign a browser in under its own key. A wrong,
revoked or non-admin key gets the refused page (401 / 403) and no cookie. Sign-out needs the
session's CSRF token and clears the cookie.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from rebac.api.auth import Authenticator
from rebac.console.access import ConsoleState, signed
from rebac.console.session import COOKIE, LOGIN_COOKIE, LOGIN_SECONDS
from rebac.errors import UnauthenticatedError

__all__ = ["SignInController", "SignOutController", "home_path"]

_HOME: Final = "/console/decisions"
_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


def home_path(wanted: str | None) -> str:
    """Where to go after signing in: a console path given as ``next``, else the decisions page."""
    if wanted and wanted.startswith("/console/") and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    return _HOME


def _cookie(name: str, value: str, request: Request[Any, Any, Any], max_age: int) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


def _login_page(
    request: Request[Any, Any, Any], console: ConsoleState, *, status: int = 200, error: str | None = None
) -> Response[Any]:
    wanted = request.query_params.get("next")
    if console.codec is None:
        return Template(
            template_name="login.html",
            context={"unavailable": True, "error": error},
            status_code=503 if status == 200 else status,
        )
    cookie, token = console.codec.login_token()
    return Template(
        template_name="login.html",
        context={"csrf": token, "next": home_path(wanted), "error": error, "unavailable": False},
        status_code=status,
        cookies=[_cookie(LOGIN_COOKIE, cookie, request, LOGIN_SECONDS)],
    )


class SignInController(Controller):
    """``/console/login`` and ``/console/logout``."""

    path = "/"

    @get("/", include_in_schema=False)
    async def root(self) -> Redirect:
        """The console's entry: the decisions page (which asks to sign in first when needed)."""
        return Redirect(_HOME, status_code=HTTP_303_SEE_OTHER)

    @get("/login", include_in_schema=False)
    async def form(
        self, request: Request[Any, Any, Any], console: NamedDependency[ConsoleState]
    ) -> Response[Any]:
        """The sign-in form."""
        return _login_page(request, console)

    @post("/login", include_in_schema=False, status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[ConsoleState],
        data: Annotated[dict[str, str], _FORM],
    ) -> Response[Any]:
        """Exchange the key for a session; a wrong key is refused with no cookie."""
        codec = console.codec
        if codec is None:
            return _login_page(request, console, status=503)
        if not codec.login_matches(request.cookies.get(LOGIN_COOKIE), data.get("csrf")):
            return _login_page(request, console, status=403, error="The form expired; try again.")
        authenticator: Authenticator = request.app.state.app.authenticator
        key = data.get("key", "").strip()
        try:
            principal = await authenticator.authenticate(f"Bearer {key}")
        except UnauthenticatedError:
            return _login_page(
                request, console, status=401, error="Refused: the API key is unknown or revoked."
            )
        request.state.principal = principal
        if not principal.allows("admin"):
            return _login_page(request, console, status=403, error="Refused: the console needs an admin key.")
        live = await authenticator.live_key(principal.key_id)
        if live is None:  # revoked between the two reads
            return _login_page(
                request, console, status=401, error="Refused: the API key is unknown or revoked."
            )
        token, _ = codec.issue(principal.key_id, live[0])
        response: Response[Any] = Redirect(home_path(data.get("next")), status_code=HTTP_303_SEE_OTHER)
        response.set_cookie(_cookie(COOKIE, token, request, codec.lifetime_seconds))
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response


class SignOutController(Controller):
    """``POST /console/logout`` (behind the session guard, so it needs the CSRF token)."""

    path = "/"

    @post("/logout", include_in_schema=False, status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """End the session and clear the cookie."""
        signed(request)
        response: Response[Any] = Redirect("/console/login", status_code=HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE, path="/console")
        return response
