"""Token and cursor decoding: any text is a decoded value or an ``InvalidTokenError``, nothing else."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from fuzz_settings import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from rebac import opaque
from rebac.errors import InvalidTokenError
from rebac.opaque import Cursor
from rebac.store.revision import Revision, decode_token, encode_token

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
PAYLOAD = st.dictionaries(st.sampled_from(["v", "r", "s", "q", "a", "x"]), JSON, max_size=5)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TEXTS = (
    st.text(max_size=64)
    | st.binary(max_size=64).map(b64)
    | JSON.map(lambda v: b64(json.dumps(v).encode()))
    | PAYLOAD.map(opaque.encode)
)


def decodes_or_refuses(call: Any) -> None:
    with contextlib.suppress(InvalidTokenError):  # any other exception fails the test
        call()


@FUZZ
@given(TEXTS)
def test_any_text_is_a_token_or_an_invalid_token_error(text: str) -> None:
    decodes_or_refuses(lambda: decode_token(text, "store-1"))
    decodes_or_refuses(lambda: opaque.decode(text, "the token"))


@FUZZ
@given(TEXTS, st.integers(min_value=1, max_value=4))
def test_any_text_is_a_cursor_or_an_invalid_token_error(text: str, size: int) -> None:
    decodes_or_refuses(lambda: Cursor.decode(text, "digest", size=size))


@FUZZ
@given(st.integers(min_value=0, max_value=2**63), st.text(max_size=16))
def test_tokens_round_trip_for_their_store_only(value: int, store: str) -> None:
    token = encode_token(Revision(value), store)
    assert decode_token(token, store) == Revision(value)
    with pytest.raises(InvalidTokenError):
        decode_token(token, store + "-other")


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_a_deeply_nested_token_is_an_invalid_token_error(depth: int) -> None:
    text = b64(("[" * depth + "]" * depth).encode())
    with pytest.raises(InvalidTokenError):
        opaque.decode(text, "the token")
