"""Console sessions: a signed, expiring cookie that names the API key it was exchanged for.

Signing in exchanges an ``admin``-scoped API key for a session. Nothing is kept in memory: the
cookie is a JWT (HS256, PyJWT) signed with the deployment's console secret, so every worker of a
``rebac serve`` checks it alike, and it carries

- ``sub``: the key id (``preshared`` for the preshared key),
- ``fp``: a keyed fingerprint of the key's stored secret hash, so a session dies with its key
  (revoked, deleted or re-issued under the same id) at the next request,
- ``csrf``: the token every state change must send back (a form field or ``X-CSRF-Token``),
- ``iat`` / ``exp``: issued and expiry times (eight hours by default).

The key itself is never stored or echoed. The signing key is derived (HMAC-SHA256 under a fixed
label) from ``REBAC_CONSOLE_SECRET`` when set (16 characters at least), and otherwise from the
preshared key, so the cookie never reveals either; with neither, the console signs no one in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

import jwt

from rebac.config import ApiSettings
from rebac.errors import InvalidInputError

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "SESSION_SECONDS",
    "Session",
    "SessionCodec",
    "console_secret",
    "csrf_matches",
]

COOKIE: Final = "rebac_console"
"""The session cookie (``Path=/console``, HttpOnly, SameSite=Strict, Secure over TLS)."""
LOGIN_COOKIE: Final = "rebac_console_login"
"""The sign-in form's CSRF cookie (double submit: its token is also a hidden form field)."""
SESSION_SECONDS: Final = 8 * 3600
LOGIN_SECONDS: Final = 15 * 60
_ALGORITHM: Final = "HS256"
_AUDIENCE: Final = "rebac-console"
_LOGIN_AUDIENCE: Final = "rebac-console-login"
_DERIVE_LABEL: Final = b"rebac console session secret v1"
MIN_SECRET_CHARS: Final = 16


def console_secret(api: ApiSettings) -> bytes | None:
    """The deployment's 32-byte signing key (``None``: the console cannot sign anyone in).

    Derived with HMAC-SHA256 from ``REBAC_CONSOLE_SECRET`` or, when unset, the preshared key.

    Raises:
        InvalidInputError: ``REBAC_CONSOLE_SECRET`` is shorter than 16 characters.
    """
    if api.console_secret:
        if len(api.console_secret) < MIN_SECRET_CHARS:
            raise InvalidInputError(f"REBAC_CONSOLE_SECRET must be at least {MIN_SECRET_CHARS} characters")
        return hmac.new(api.console_secret.encode(), _DERIVE_LABEL, hashlib.sha256).digest()
    if api.preshared_key:
        return hmac.new(api.preshared_key.encode(), _DERIVE_LABEL, hashlib.sha256).digest()
    return None


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in console user.

    Attributes:
        key_id: The API key the session was exchanged for.
        fingerprint: The keyed fingerprint of that key's stored secret hash.
        csrf: The token a state change must send back.
        expires_at: Unix time the session ends.
    """

    key_id: str
    fingerprint: str
    csrf: str
    expires_at: int


class SessionCodec:
    """Issues and verifies session and sign-in cookies under one secret.

    Args:
        secret: The deployment's console secret (see :func:`console_secret`).
        lifetime_seconds: How long a session lasts.
    """

    __slots__ = ("_lifetime", "_secret")

    def __init__(self, secret: bytes, *, lifetime_seconds: int = SESSION_SECONDS) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds

    @property
    def lifetime_seconds(self) -> int:
        """How long a session lasts."""
        return self._lifetime

    def fingerprint(self, secret_hash: str) -> str:
        """The keyed fingerprint of a key's stored secret hash (reveals nothing of the hash)."""
        return hmac.new(self._secret, b"fp:" + secret_hash.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, key_id: str, secret_hash: str) -> tuple[str, Session]:
        """A new session for the key: the cookie value and what it says."""
        now = int(time.time())
        session = Session(
            key_id, self.fingerprint(secret_hash), secrets.token_urlsafe(32), now + self._lifetime
        )
        claims = {
            "sub": session.key_id,
            "fp": session.fingerprint,
            "csrf": session.csrf,
            "iat": now,
            "exp": session.expires_at,
            "aud": _AUDIENCE,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), session

    def read(self, token: str | None) -> Session | None:
        """The session a cookie names, or ``None`` (absent, forged, expired or malformed)."""
        if not token:
            return None
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["sub", "fp", "csrf", "exp", "iat", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        values = (claims.get("sub"), claims.get("fp"), claims.get("csrf"), claims.get("exp"))
        if not all(isinstance(v, str) for v in values[:3]) or not isinstance(values[3], int):
            return None
        return Session(str(values[0]), str(values[1]), str(values[2]), int(values[3]))

    def login_token(self) -> tuple[str, str]:
        """A sign-in form's CSRF pair: the cookie value and the form field's token."""
        token = secrets.token_urlsafe(32)
        claims = {"csrf": token, "exp": int(time.time()) + LOGIN_SECONDS, "aud": _LOGIN_AUDIENCE}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), token

    def login_matches(self, cookie: str | None, field: str | None) -> bool:
        """True when the sign-in form's token matches its (valid, unexpired) cookie."""
        if not cookie or not field:
            return False
        try:
            claims = jwt.decode(cookie, self._secret, algorithms=[_ALGORITHM], audience=_LOGIN_AUDIENCE)
        except jwt.PyJWTError:
            return False
        token = claims.get("csrf")
        return isinstance(token, str) and hmac.compare_digest(token, field)


def csrf_matches(session: Session, presented: str | None) -> bool:
    """True when ``presented`` is the session's CSRF token (constant-time)."""
    return presented is not None and hmac.compare_digest(session.csrf, presented)
