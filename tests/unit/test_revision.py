"""Opaque consistency tokens: round trip, and typed rejection of anything else."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebac.errors import InvalidTokenError
from rebac.store.revision import Revision, decode_token, encode_token


@given(st.integers(min_value=0, max_value=2**63 - 1), st.uuids())
def test_token_round_trips(value: int, store: object) -> None:
    token = encode_token(Revision(value), str(store))
    assert decode_token(token, str(store)) == Revision(value)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        "%%%",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b'{"v":2,"r":1,"s":"s1"}').decode(),
        base64.urlsafe_b64encode(b'{"v":1,"r":-1,"s":"s1"}').decode(),
        base64.urlsafe_b64encode(b'{"v":1,"r":true,"s":"s1"}').decode(),
        base64.urlsafe_b64encode(b'{"v":1,"r":"1","s":"s1"}').decode(),
    ],
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode_token(token, "s1")


def test_token_from_another_store_is_rejected() -> None:
    token = encode_token(Revision(5), "store-a")
    with pytest.raises(InvalidTokenError, match="another store"):
        decode_token(token, "store-b")


def test_revisions_are_ordered() -> None:
    assert Revision(1) < Revision(2)
    assert max(Revision(3), Revision(2)) == Revision(3)
