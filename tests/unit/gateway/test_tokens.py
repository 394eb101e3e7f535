"""Bearer JWT validation: signature, issuer, audience, exp, nbf; only asymmetric keys."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from rebac.gateway import tokens
from rebac.gateway.tokens import InvalidBearerError, JwksSource, TokenValidator

AUD = "https://gw.test/mcp"
ISS = "https://idp.test"


@pytest.fixture
def signer(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, TokenValidator]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(ECAlgorithm.to_jwk(key.public_key())) | {"kid": "k1"}
    oct_key = {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "hmac"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public, oct_key]}), encoding="utf-8")
    return key, TokenValidator(JwksSource(str(path)), issuer=ISS, audience=AUD)


def mint(key: Any, kid: str = "k1", alg: str = "ES256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "sub": "alice", "exp": now + 60, **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


async def test_valid_token_and_its_cache(signer: tuple[Any, TokenValidator]) -> None:
    key, validator = signer
    token = mint(key)
    assert (await validator.validate(f"Bearer {token}"))["sub"] == "alice"
    assert (await validator.validate(f"bearer {token}"))["sub"] == "alice"  # from the cache


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        # exp and nbf are offsets from the moment the test runs, not from collection time
        # (a suite that runs for more than ten minutes once turned a future nbf into a past one).
        ({"exp": -60}, "expired"),
        ({"nbf": 600}, "not yet valid"),
        ({"aud": "https://other/mcp"}, "not for this resource"),
        ({"iss": "https://evil"}, "issuer"),
    ],
)
async def test_claims_are_checked(
    signer: tuple[Any, TokenValidator], claims: dict[str, Any], message: str
) -> None:
    key, validator = signer
    now = int(time.time())
    absolute = {name: now + value if name in ("exp", "nbf") else value for name, value in claims.items()}
    with pytest.raises(InvalidBearerError, match=message):
        await validator.validate(f"Bearer {mint(key, **absolute)}")


async def test_hmac_and_unknown_keys_are_refused(signer: tuple[Any, TokenValidator]) -> None:
    _, validator = signer
    hmac = mint("secret-secret-secret-secret-secret-0", kid="hmac", alg="HS256")
    with pytest.raises(InvalidBearerError, match="not accepted"):
        await validator.validate(f"Bearer {hmac}")
    other = mint(ec.generate_private_key(ec.SECP256R1()), kid="nope")
    with pytest.raises(InvalidBearerError, match="no key"):
        await validator.validate(f"Bearer {other}")
    forged = mint(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidBearerError, match="signature"):
        await validator.validate(f"Bearer {forged}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer x.y.z"])
async def test_missing_or_malformed(signer: tuple[Any, TokenValidator], header: str | None) -> None:
    _, validator = signer
    with pytest.raises(InvalidBearerError) as exc:
        await validator.validate(header)
    assert (exc.value.error is None) == (not header)


class _Jwks(BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def jwks_url() -> Iterator[tuple[ec.EllipticCurvePrivateKey, str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    _Jwks.body = json.dumps(
        {"keys": [json.loads(ECAlgorithm.to_jwk(key.public_key())) | {"kid": "k1"}]}
    ).encode()
    _Jwks.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_jwks_from_a_url(jwks_url: tuple[Any, str]) -> None:
    key, url = jwks_url
    validator = TokenValidator(JwksSource(url), issuer=ISS, audience=AUD)
    assert (await validator.validate(f"Bearer {mint(key)}"))["sub"] == "alice"
    assert (await validator.validate(f"Bearer {mint(key, sub='bob')}"))["sub"] == "bob"
    assert _Jwks.hits == 1  # fetched once, then from memory
    with pytest.raises(InvalidBearerError, match="no key"):
        await validator.validate(f"Bearer {mint(key, kid='rotated')}")


async def test_an_unreachable_jwks_url_refuses_tokens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    validator = TokenValidator(
        JwksSource(f"http://127.0.0.1:{port}/jwks.json", timeout=1), issuer=ISS, audience=AUD
    )
    with pytest.raises(InvalidBearerError, match="could not be fetched"):
        await validator.validate(f"Bearer {mint(ec.generate_private_key(ec.SECP256R1()))}")


# --- the cache of validated tokens ----------------------------------------------------------------


async def test_a_cached_token_is_refused_once_it_expires(
    signer: tuple[Any, TokenValidator], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, validator = signer
    now = time.time()
    token = f"Bearer {mint(key, exp=int(now) + 60)}"
    assert (await validator.validate(token))["sub"] == "alice"
    assert validator.cached == 1
    monkeypatch.setattr(time, "time", lambda: now + 60 + tokens.LEEWAY_SECONDS + 1)
    with pytest.raises(InvalidBearerError, match="expired"):
        await validator.validate(token)
    assert validator.cached == 0  # the entry did not outlive exp


async def test_a_cached_token_is_refused_before_its_nbf(
    signer: tuple[Any, TokenValidator], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, validator = signer
    now = time.time()
    token = f"Bearer {mint(key, nbf=int(now))}"
    await validator.validate(token)
    monkeypatch.setattr(time, "time", lambda: now - tokens.LEEWAY_SECONDS - 10)  # the clock went back
    with pytest.raises(InvalidBearerError, match="not yet valid"):
        await validator.validate(token)


async def test_a_forged_signature_on_cached_claims_is_refused(signer: tuple[Any, TokenValidator]) -> None:
    key, validator = signer
    token = mint(key)
    await validator.validate(f"Bearer {token}")
    head, body, _ = token.split(".")
    forged = mint(ec.generate_private_key(ec.SECP256R1()))
    for other in (f"{head}.{body}.{forged.split('.')[2]}", f"{head}.{body}.", token + "x"):
        with pytest.raises(InvalidBearerError):
            await validator.validate(f"Bearer {other}")


async def test_the_cache_is_bounded(
    signer: tuple[Any, TokenValidator], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, validator = signer
    monkeypatch.setattr(tokens, "CACHE_SIZE", 3)
    for n in range(6):
        await validator.validate(f"Bearer {mint(key, sub=f'u{n}')}")
    assert validator.cached == 3


async def test_a_jwks_rotation_invalidates_cached_tokens(
    jwks_url: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key, url = jwks_url
    validator = TokenValidator(JwksSource(url), issuer=ISS, audience=AUD)
    token = f"Bearer {mint(key)}"
    assert (await validator.validate(token))["sub"] == "alice"
    assert (await validator.validate(token))["sub"] == "alice"
    assert _Jwks.hits == 1
    # the same key set fetched again: the cached token stays a hit
    monkeypatch.setattr(tokens, "JWKS_REFRESH_SECONDS", 0.0)
    assert (await validator.validate(token))["sub"] == "alice"
    assert _Jwks.hits == 2
    # the key is rotated out: the next fetch drops it, and the cached token is verified again
    rotated = ec.generate_private_key(ec.SECP256R1())
    _Jwks.body = json.dumps(
        {"keys": [json.loads(ECAlgorithm.to_jwk(rotated.public_key())) | {"kid": "k2"}]}
    ).encode()
    with pytest.raises(InvalidBearerError, match="no key"):
        await validator.validate(token)
    assert _Jwks.hits >= 3
    assert validator.cached == 0
    assert (await validator.validate(f"Bearer {mint(rotated, kid='k2')}"))["sub"] == "alice"


async def test_a_cached_token_is_checked_against_the_refreshed_keys_only_when_due(
    jwks_url: tuple[Any, str],
) -> None:
    key, url = jwks_url
    validator = TokenValidator(JwksSource(url), issuer=ISS, audience=AUD)
    token = f"Bearer {mint(key)}"
    for _ in range(5):
        await validator.validate(token)
    assert _Jwks.hits == 1  # within JWKS_REFRESH_SECONDS: no fetch per request
