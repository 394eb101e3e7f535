"""Free-string ids through the CLI (and so the SDK) against a live ``rebac serve``.

The CLI and the SDK send and receive ids unchanged; the server maps them. A free id is written
in the text syntax as a JSON string (``user:"rick@the-citadel.com"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_live import KEY, Cli, live_server

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

definition tool {
    relation invoker: user
    permission invoke = invoker
}
"""

RICK = 'user:"rick@the-citadel.com"'
SEARCH = 'tool:"mcp.tools.search"'


@pytest.fixture(scope="module")
def rebac(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    folder = tmp_path_factory.mktemp("free-ids")
    with live_server(pg_server_url, folder / "server.log") as (base, _):
        run = Cli({"REBAC_CONFIG": str(folder / "contexts.json"), "REBAC_ENDPOINT": base, "REBAC_KEY": KEY})
        schema = folder / "schema.zed"
        schema.write_text(SCHEMA, encoding="utf-8")
        run.ok("schema", "write", str(schema))
        yield run


def test_free_ids_round_trip_through_the_cli(rebac: Cli) -> None:
    rebac.ok(
        "relationship",
        "write",
        f"{SEARCH}#invoker@{RICK}",
        'tool:"=x"#invoker@user:"ünï 名前"',
        "tool:plain#invoker@user:tom",
    )
    rows = rebac.ok("relationship", "read", "tool", "--fully-consistent", "--json").lines()
    assert sorted(rows) == [
        'tool:"=x"#invoker@user:"ünï 名前"',
        f"{SEARCH}#invoker@{RICK}",
        "tool:plain#invoker@user:tom",
    ]
    allowed = rebac("check", SEARCH, "invoke", RICK, "--fully-consistent")
    assert allowed.code == 0, (allowed.out, allowed.err)
    # the stored form of rick's id, written as an id, is another id: denied
    denied = rebac("check", SEARCH, "invoke", "user:=cmlja0B0aGUtY2l0YWRlbC5jb20", "--fully-consistent")
    assert denied.code == 1, (denied.out, denied.err)
    resources = rebac.ok("lookup", "resources", "tool", "invoke", RICK, "--fully-consistent").out.split()
    assert resources == [SEARCH]
    subjects = rebac.ok("lookup", "subjects", SEARCH, "invoke", "user", "--fully-consistent").out.split()
    assert subjects == [RICK]


def test_export_and_import_keep_free_ids(rebac: Cli) -> None:
    rebac.ok("relationship", "write", 'tool:"https://x.test/t?a=1"#invoker@user:"a@b.test"')
    exported = rebac.ok("export", "--resource-type", "tool").lines()
    lines = sorted(line["relationship"] for line in exported)
    assert 'tool:"https://x.test/t?a=1"#invoker@user:"a@b.test"' in lines
    imported = "\n".join(json.dumps({"relationship": line}) for line in lines)
    rebac.ok("relationship", "delete-matching", "tool")
    assert rebac.ok("import", "-", "--json", stdin=imported + "\n").json()["loaded"] == len(lines)
    again = sorted(line["relationship"] for line in rebac.ok("export", "--resource-type", "tool").lines())
    assert again == lines


def test_bad_free_ids_are_one_line_errors(rebac: Cli) -> None:
    too_long = 'user:"' + "@" * 768 + '"'
    for bad in (too_long, 'user:""', 'user:"open'):
        result = rebac("check", SEARCH, "invoke", bad)
        assert result.code == 3, (bad, result.out, result.err)
        assert len(result.err.strip().splitlines()) == 1, result.err
