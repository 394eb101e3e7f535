"""API keys: format, hashing, constant-time verification, scopes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rebac.api.auth import Authenticator, Principal
from rebac.errors import InvalidInputError, UnauthenticatedError
from rebac.refs import parse_subject
from rebac.services.keys import generate_key, hash_secret, validate_scopes


@dataclass
class Row:
    key_id: str
    secret_hash: str
    scopes: frozenset[str]
    revoked: bool = False
    subject: str | None = None


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    async def find_key(self, key_id: str) -> Row | None:
        return self.rows.get(key_id)


def test_generated_keys_are_random_and_never_repr_their_secret() -> None:
    first, second = generate_key(), generate_key()
    assert first.text != second.text
    assert first.text.startswith(f"rbk_{first.key_id}_")
    assert first.secret_hash == hash_secret(first.text.split("_", 2)[2])
    assert first.text not in repr(first)


async def test_preshared_and_scoped_keys() -> None:
    table = Table()
    key = generate_key()
    table.rows[key.key_id] = Row(key.key_id, key.secret_hash, frozenset({"check"}))
    auth = Authenticator("the-preshared-key", table)
    assert await auth.authenticate("Bearer the-preshared-key") == Principal("preshared", frozenset({"admin"}))
    principal = await auth.authenticate(f"Bearer {key.text}")
    assert principal.allows("check")
    assert not principal.allows("write")
    assert Principal("x", frozenset({"admin"})).allows("schema")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer nope", "Basic abc", "bearer rbk_unknown_secret", "Bearer rbk_"]
)
async def test_bad_headers_are_unauthenticated(header: str | None) -> None:
    auth = Authenticator("the-preshared-key", Table())
    with pytest.raises(UnauthenticatedError) as info:
        await auth.authenticate(header)
    assert "the-preshared-key" not in str(info.value)


async def test_revoked_keys_fail() -> None:
    table = Table()
    key = generate_key()
    table.rows[key.key_id] = Row(key.key_id, key.secret_hash, frozenset({"admin"}), revoked=True)
    with pytest.raises(UnauthenticatedError):
        await Authenticator(None, table).authenticate(f"Bearer {key.text}")


def test_scope_validation() -> None:
    assert validate_scopes(["check", "write"]) == frozenset({"check", "write"})
    with pytest.raises(InvalidInputError):
        validate_scopes(["root"])
    with pytest.raises(InvalidInputError):
        validate_scopes([])


async def test_key_cache_bounds_revocation_delay() -> None:
    table = Table()
    key = generate_key()
    table.rows[key.key_id] = Row(key.key_id, key.secret_hash, frozenset({"check"}))
    cached = Authenticator(None, table, cache_seconds=60)
    uncached = Authenticator(None, table, cache_seconds=0)
    await cached.authenticate(f"Bearer {key.text}")
    table.rows[key.key_id] = Row(key.key_id, key.secret_hash, frozenset({"check"}), revoked=True)
    assert (await cached.authenticate(f"Bearer {key.text}")).key_id == key.key_id  # within the window
    with pytest.raises(UnauthenticatedError):
        await uncached.authenticate(f"Bearer {key.text}")


async def test_the_principal_carries_the_subject_the_key_acts_for() -> None:
    table = Table()
    acting, plain = generate_key(), generate_key()
    table.rows[acting.key_id] = Row(
        acting.key_id, acting.secret_hash, frozenset({"admin"}), subject="user:alice"
    )
    table.rows[plain.key_id] = Row(plain.key_id, plain.secret_hash, frozenset({"check"}))
    for cache_seconds in (0.0, 60.0):
        auth = Authenticator("psk", table, cache_seconds=cache_seconds)
        for _ in range(2):  # the second time from the cache, when it is on
            assert (await auth.authenticate(f"Bearer {acting.text}")).subject == parse_subject("user:alice")
            assert (await auth.authenticate(f"Bearer {plain.text}")).subject is None
        assert (await auth.authenticate("Bearer psk")).subject is None


async def test_the_preshared_key_acts_for_the_configured_subject() -> None:
    auth = Authenticator("psk", Table(), preshared_subject=parse_subject("user:root"))
    principal = await auth.authenticate("Bearer psk")
    assert principal == Principal("preshared", frozenset({"admin"}), parse_subject("user:root"))


@pytest.mark.parametrize("stored", ["user:*", "team:eng#member", "not a subject", ""])
async def test_a_damaged_stored_subject_fails_closed(stored: str) -> None:
    table = Table()
    key = generate_key()
    table.rows[key.key_id] = Row(key.key_id, key.secret_hash, frozenset({"admin"}), subject=stored)
    auth = Authenticator(None, table)
    with pytest.raises(UnauthenticatedError, match="subject is malformed"):
        await auth.authenticate(f"Bearer {key.text}")
    with pytest.raises(UnauthenticatedError, match="unknown or revoked"):  # the wrong secret learns nothing
        await auth.authenticate(f"Bearer rbk_{key.key_id}_wrong")
