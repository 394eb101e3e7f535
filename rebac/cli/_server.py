"""Which server a command talks to, and the SDK client it talks through.

Every command that reads or changes server state takes ``--endpoint``, ``--key`` and
``--context`` (:func:`server_options`). They resolve, in this order: the option, its environment
variable (``REBAC_ENDPOINT``, ``REBAC_KEY``, ``REBAC_CONTEXT``), the named or current saved
context (:mod:`rebac.cli._contexts`), and finally ``http://127.0.0.1:8080`` with no key. Nothing
is resolved, and :mod:`rebac.client` is not imported, until the command runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from rebac.cli._contexts import ContextFile, config_path

if TYPE_CHECKING:
    from rebac.client import Client

__all__ = ["DEFAULT_ENDPOINT", "CheckError", "CliError", "Server", "json_option", "server_options"]

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8080"

R = TypeVar("R")


class CliError(click.ClickException):
    """A one-line error (``Error: ...``), exit status 1."""

    exit_code = 1


class CheckError(CliError):
    """``rebac check`` could not decide: exit status 3 (0, 1 and 2 are answers)."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Server:
    """The connection options as given; :meth:`client` resolves them."""

    endpoint: str | None
    key: str | None
    context: str | None

    def resolve(self) -> tuple[str, str | None]:
        """The endpoint and key: options and environment first, then the saved context."""
        endpoint, key = self.endpoint, self.key
        if endpoint is None or key is None or self.context:
            saved = ContextFile.load(config_path()).active(self.context)
            if saved is not None:
                endpoint = endpoint or saved.endpoint
                key = key or saved.key
        return (endpoint or DEFAULT_ENDPOINT).rstrip("/"), key

    def client(self, **options: Any) -> Client:
        """An SDK client of the server (read-your-writes off: one command, one request)."""
        from rebac.client import Client  # noqa: PLC0415 - the SDK is imported only when a command runs

        endpoint, key = self.resolve()
        return Client(endpoint, key=key, read_your_writes=False, **options)


def server_options(func: Callable[..., R]) -> Callable[..., R]:
    """Add ``--endpoint``, ``--key`` and ``--context``; the command receives ``server: Server``."""

    @functools.wraps(func)
    def wrapper(*args: Any, endpoint: str | None, key: str | None, context_name: str | None, **kw: Any) -> R:
        return func(*args, server=Server(endpoint or None, key or None, context_name or None), **kw)

    options = [
        click.option(
            "--endpoint",
            envvar="REBAC_ENDPOINT",
            default=None,
            help=f"Server URL (or REBAC_ENDPOINT, the context, {DEFAULT_ENDPOINT}).",
        ),
        click.option("--key", envvar="REBAC_KEY", default=None, help="API key (or REBAC_KEY, the context)."),
        click.option(
            "--context",
            "context_name",
            envvar="REBAC_CONTEXT",
            default=None,
            help="Use this saved context instead of the current one (or REBAC_CONTEXT).",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


json_option: Final = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
"""The ``--json`` flag every command has."""
