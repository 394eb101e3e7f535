"""Saved server contexts (``rebac context ...``), like ``zed context``: a name, an endpoint, a key.

The contexts live in one JSON file, ``$REBAC_CONFIG`` when set, else
``$XDG_CONFIG_HOME/rebac/contexts.json`` (``~/.config/rebac/contexts.json``)::

    {"current": "local", "contexts": {"local": {"endpoint": "http://127.0.0.1:8080", "key": "..."}}}

The file holds API keys, so it is written with mode 0600 (its folder 0700), through a temporary
file that replaces it atomically; an existing file that others can read is tightened on the next
write. Nothing here is cached: each command reads the file once, when it runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["FILE_MODE", "Context", "ContextFile", "ContextsError", "config_path"]

FILE_MODE: Final = 0o600
"""The contexts file is readable and writable by its owner only."""

_DIR_MODE: Final = 0o700


class ContextsError(Exception):
    """The contexts file cannot be read or written, or names no such context."""


@dataclass(frozen=True, slots=True)
class Context:
    """One saved server: where it is and the key to send."""

    name: str
    endpoint: str
    key: str | None = None


@dataclass(slots=True)
class ContextFile:
    """The contexts file's content: every context and the name of the current one."""

    path: Path
    contexts: dict[str, Context] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def load(cls, path: Path) -> ContextFile:
        """Read ``path`` (an empty set of contexts when it does not exist)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise ContextsError(f"cannot read the contexts file {path}: {exc}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("contexts", {}), dict):
            raise ContextsError(f"the contexts file {path} is not a rebac contexts file")
        contexts: dict[str, Context] = {}
        for name, entry in raw.get("contexts", {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("endpoint"), str):
                raise ContextsError(f"the contexts file {path} has a malformed context {name!r}")
            key = entry.get("key")
            contexts[name] = Context(name, entry["endpoint"], key if isinstance(key, str) else None)
        current = raw.get("current")
        return cls(path, contexts, current if isinstance(current, str) and current in contexts else None)

    def get(self, name: str) -> Context:
        """The context called ``name``."""
        try:
            return self.contexts[name]
        except KeyError:
            known = ", ".join(sorted(self.contexts)) or "none saved"
            raise ContextsError(f"no context {name!r} ({known}); add one with `rebac context set`") from None

    def active(self, name: str | None) -> Context | None:
        """The context ``name`` (which must exist), else the current one, else ``None``."""
        if name:
            return self.get(name)
        return self.contexts.get(self.current) if self.current else None

    def save(self) -> None:
        """Write the file with mode 0600, atomically (a temporary file in the same folder)."""
        body = {
            "current": self.current,
            "contexts": {
                c.name: {"endpoint": c.endpoint, **({"key": c.key} if c.key else {})}
                for c in sorted(self.contexts.values(), key=lambda c: c.name)
            },
        }
        folder = self.path.parent
        try:
            folder.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".contexts-", dir=folder)  # created 0600
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    os.fchmod(out.fileno(), FILE_MODE)
                    json.dump(body, out, indent=2)
                    out.write("\n")
                Path(temporary).replace(self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ContextsError(f"cannot write the contexts file {self.path}: {exc}") from None


def config_path() -> Path:
    """Where the contexts file is: ``REBAC_CONFIG``, else the XDG config folder."""
    explicit = os.environ.get("REBAC_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rebac" / "contexts.json"
