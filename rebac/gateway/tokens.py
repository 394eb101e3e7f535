"""OAuth bearer JWTs: the signature against a JWKS (a file or a URL), then issuer, audience, exp, nbf.

PyJWT verifies. The key set of a URL is fetched (httpx) when first needed, again after
:data:`JWKS_REFRESH_SECONDS`, and at most every :data:`JWKS_MIN_REFETCH_SECONDS` when a token names
a key id the set does not have (a rotation). Asymmetric algorithms only (:data:`ALGORITHMS`): a
token verifies with its key's algorithm (the JWK's ``alg``, else the one of its key type), so
``none`` and HMAC are never accepted.

A token that validated is remembered (by its exact text, up to :data:`CACHE_SIZE` tokens, the
oldest dropped first), so the hot path does not verify a signature per request. On every use its
``exp`` and ``nbf`` are checked again against the clock (an expired entry is dropped), and a key
set that changed since it was verified (a JWKS URL refetched with other keys: a rotation or a
revoked key) sends it through full verification again. A URL's key set is refreshed when due on
a cached request too, so a removed key stops its tokens within :data:`JWKS_REFRESH_SECONDS`. A
forged or altered token is other text: never a hit.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import jwt

from rebac.errors import InvalidInputError, UnauthenticatedError

__all__ = ["ALGORITHMS", "InvalidBearerError", "JwksSource", "TokenValidator"]

ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
JWKS_REFRESH_SECONDS: Final = 300.0
JWKS_MIN_REFETCH_SECONDS: Final = 10.0
CACHE_SIZE: Final = 10_000
LEEWAY_SECONDS: Final = 5.0


class InvalidBearerError(UnauthenticatedError):
    """The request's bearer token is missing or invalid (401; ``error`` is RFC 6750's code)."""

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.error = error


class JwksSource:
    """The verification keys: a JWKS file, or a URL fetched and refreshed."""

    def __init__(self, location: str, *, timeout: float = 5.0) -> None:
        self.location = location
        self._timeout = timeout
        self._keys: jwt.PyJWKSet | None = None
        self._raw: Any = None
        self._fetched = 0.0
        self.generation = 0
        """Bumped whenever the key set changes (tokens verified under another are verified again)."""
        self._is_url = location.startswith(("http://", "https://"))
        if not self._is_url:
            try:
                text = Path(location).read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInputError(f"cannot read the JWKS {location}: {exc.strerror}") from exc
            self._keys = _key_set(text, location)
            self._raw = json.loads(text)

    def due(self) -> bool:
        """Whether a URL's key set should be fetched again before it is used."""
        return self._is_url and (
            self._keys is None or time.monotonic() - self._fetched > JWKS_REFRESH_SECONDS
        )

    async def refresh(self) -> None:
        """Fetch a URL's key set again if :meth:`due` (a failed fetch keeps the keys it had)."""
        if self.due():
            await self._fetch(time.monotonic())

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key a token names (its ``kid``; the only key when it names none)."""
        await self.refresh()
        now = time.monotonic()
        found = _find(self._keys, kid)
        if found is None and self._is_url and now - self._fetched > JWKS_MIN_REFETCH_SECONDS:
            await self._fetch(now)
            found = _find(self._keys, kid)
        if found is None:
            raise InvalidBearerError(f"no key of the JWKS matches the token's key id {kid!r}")
        return found

    async def _fetch(self, now: float) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self.location)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            if self._keys is None:
                raise InvalidBearerError(f"the JWKS could not be fetched: {type(exc).__name__}") from exc
            return  # keep the keys we have; retried after the minimum interval
        finally:
            self._fetched = now
        try:
            keys = _key_set(response.text, self.location)
        except InvalidInputError as exc:
            if self._keys is None:
                raise InvalidBearerError(f"the JWKS fetched is not usable: {exc}") from exc
            return
        raw = json.loads(response.text)
        if raw != self._raw:
            self._raw, self._keys = raw, keys
            self.generation += 1


def _key_set(text: str, where: str) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(json.loads(text))
    except (ValueError, jwt.PyJWTError) as exc:
        raise InvalidInputError(f"{where} is not a usable JWKS: {exc}") from exc


def _find(keys: jwt.PyJWKSet | None, kid: str | None) -> jwt.PyJWK | None:
    if keys is None:
        return None
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((k for k in keys.keys if k.key_id == kid), None)


@dataclass(frozen=True, slots=True)
class _Valid:
    claims: Mapping[str, Any]
    expires: float
    not_before: float
    generation: int


class TokenValidator:
    """Validates bearer JWTs for one resource (issuer and audience fixed)."""

    def __init__(self, keys: JwksSource, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self._cache: OrderedDict[str, _Valid] = OrderedDict()

    async def validate(self, authorization: str | None) -> Mapping[str, Any]:
        """The claims of the ``Authorization: Bearer`` token.

        Raises:
            InvalidBearerError: no bearer token (``error`` ``None``), or an invalid one.
        """
        if not authorization:
            raise InvalidBearerError("a bearer token is required", error=None)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidBearerError(
                "the Authorization header must be 'Bearer <token>'", error="invalid_request"
            )
        hit = self._cache.get(token)
        if hit is not None:
            if self.keys.due():
                await self.keys.refresh()
            now = time.time()
            if now >= hit.expires + LEEWAY_SECONDS:
                del self._cache[token]
                raise InvalidBearerError("the token has expired")
            if hit.generation == self.keys.generation:
                if now < hit.not_before - LEEWAY_SECONDS:
                    raise InvalidBearerError("the token is not yet valid")
                return hit.claims
            del self._cache[token]  # verified under keys that changed since: verified again
        claims = await self._decode(token)
        # the generation of the keys that verified it: nothing awaits between the key and here
        generation = self.keys.generation
        self._cache[token] = _Valid(claims, float(claims["exp"]), float(claims.get("nbf", 0)), generation)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return claims

    @property
    def cached(self) -> int:
        """How many validated tokens are remembered."""
        return len(self._cache)

    async def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidBearerError(f"the token is malformed: {exc}") from exc
        kid = header.get("kid")
        key = await self.keys.key(kid if isinstance(kid, str) else None)
        if key.algorithm_name not in ALGORITHMS:
            raise InvalidBearerError(f"the key's algorithm {key.algorithm_name} is not accepted")
        algorithms = [key.algorithm_name]
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidBearerError("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidBearerError(
                f"the token is not for this resource (audience {self.audience})"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidBearerError("the token's issuer is not trusted") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidBearerError("the token is not yet valid") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidBearerError("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidBearerError(f"the token is invalid: {exc}") from exc
        return claims
