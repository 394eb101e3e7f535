"""Bearer JWT validation: signature, issuer, audience, exp, nbf; only asymmetric keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

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
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"aud": "https://other/mcp"}, "not for this resource"),
        ({"iss": "https://evil"}, "issuer"),
    ],
)
async def test_claims_are_checked(
    signer: tuple[Any, TokenValidator], claims: dict[str, Any], message: str
) -> None:
    key, validator = signer
    with pytest.raises(InvalidBearerError, match=message):
        await validator.validate(f"Bearer {mint(key, **claims)}")


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
