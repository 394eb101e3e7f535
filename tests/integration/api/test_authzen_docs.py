"""Every request example in ``docs/authzen.md`` runs against the app, with the doc's own model.

The doc's ```zed block is the schema, its ```text block the relationships; each
```json request METHOD PATH block is sent and the following ```json response STATUS block must
be contained in the answer (objects by subset, lists element by element).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from api_helpers import AUTH, Client

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "authzen.md"
_BLOCK = re.compile(r"```(\w+)([^\n]*)\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str, str]]:
    return [(m[1], m[2].strip(), m[3]) for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def _examples() -> list[tuple[str, str, str, int, Any]]:
    found: list[tuple[str, str, str, int, Any]] = []
    blocks = _blocks()
    for (lang, info, body), (_, next_info, next_body) in itertools.pairwise(blocks):
        if lang == "json" and info.startswith("request "):
            _, method, path = info.split()
            kind, status = next_info.split()
            assert kind == "response", info
            found.append((method, path, body.strip(), int(status), json.loads(next_body)))
    return found


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


@pytest.fixture
async def modelled(client: Client) -> Client:
    blocks = _blocks()
    schema = next(body for lang, _, body in blocks if lang == "zed")
    relationships = next(body for lang, _, body in blocks if lang == "text")
    assert (await client.post("/v1/schema/write", json={"schema": schema}, headers=AUTH)).status_code == 200
    response = await client.post(
        "/v1/relationships/importbulk", content=relationships.strip().encode(), headers=AUTH
    )
    assert response.status_code == 200, response.text
    return client


def test_the_doc_has_examples() -> None:
    assert len(_examples()) >= 8


@pytest.mark.parametrize("example", _examples(), ids=lambda e: f"{e[0]} {e[1]}")
async def test_doc_example(modelled: Client, example: tuple[str, str, str, int, Any]) -> None:
    method, path, body, status, expected = example
    if method == "GET":
        response = await modelled.get(path, headers=AUTH)
    else:
        response = await modelled.post(path, json=json.loads(body), headers=AUTH)
    assert response.status_code == status, response.text
    assert _contains(response.json(), expected), response.text
