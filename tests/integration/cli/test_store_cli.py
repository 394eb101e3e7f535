"""The local store commands: migrate, ``import --direct`` (COPY; atomic, line-numbered errors), gc.

What was imported is read back from the store itself (``export`` goes over the API and is tested
with a live server in ``test_cli_end_to_end.py``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebac.cli.main import cli
from rebac.config import Settings
from rebac.errors import UnsafeSchemaChangeError
from rebac.services.core import Services
from rebac.store.base import RelationshipFilter
from rebac.store.postgres import PostgresTupleStore

pytestmark = pytest.mark.integration

LINES = [
    "doc:1#viewer@user:tom",
    '{"relationship": "doc:2#viewer@team:eng#member"}',
    "",
    'doc:3#viewer@user:ann[ip:{"cidr":"10.0.0.0/8"}]',
]


def invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def stored(env: dict[str, str], flt: RelationshipFilter | None = None) -> list[str]:
    async def read() -> list[str]:
        store = await PostgresTupleStore.connect(env["REBAC_DATABASE_URL"], quantization_seconds=0)
        try:
            head = await store.head_revision()
            return sorted([str(r) async for r in store.query(flt or RelationshipFilter(), revision=head)])
        finally:
            await store.close()

    return asyncio.run(read())


def write_schema(env: dict[str, str], text: str) -> None:
    async def write() -> None:
        store = await PostgresTupleStore.connect(env["REBAC_DATABASE_URL"])
        try:
            await store.write_schema(text, author="test")
        finally:
            await store.close()

    asyncio.run(write())


def test_migrate_import_export_gc(empty_database_url: str, tmp_path: Path) -> None:
    env = {"REBAC_DATABASE_URL": empty_database_url}
    code, out, _ = invoke(env, "migrate")
    assert code == 0
    assert "newest migration" in out
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(LINES) + "\n")
    code, out, _ = invoke(env, "import", "--direct", str(source))
    assert code == 0, out
    assert "loaded 3 relationships; token: " in out
    everything = stored(env)
    assert everything == [
        "doc:1#viewer@user:tom",
        "doc:2#viewer@team:eng#member",
        'doc:3#viewer@user:ann[ip:{"cidr":"10.0.0.0/8"}]',
    ]
    # refused whole because a line already exists
    code, _, err = invoke(env, "import", "--direct", "-", stdin="doc:9#viewer@user:new\n" + LINES[0] + "\n")
    assert code == 1
    assert "already exists" in err
    assert stored(env) == everything
    code, out, _ = invoke(env, "gc", "--older-than", "0")
    assert code == 0
    assert "removed 0 relationship versions" in out


def test_bad_import_writes_nothing(empty_database_url: str) -> None:
    env = {"REBAC_DATABASE_URL": empty_database_url}
    assert invoke(env, "migrate")[0] == 0
    code, _, err = invoke(env, "import", "--direct", "-", stdin="doc:1#viewer@user:tom\ndoc:2#viewer@user:\n")
    assert code == 1
    assert "line 2" in err
    assert stored(env) == []


def test_unreachable_database_is_a_clean_error() -> None:
    env = {"REBAC_DATABASE_URL": "postgresql://root:s3cret@127.0.0.1:1/none"}
    code, _, err = invoke(env, "import", "--direct", "-", stdin="doc:1#viewer@user:tom\n")
    assert code == 1
    assert "unavailable" in err
    assert "s3cret" not in err


@pytest.fixture
def embedded_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="rebac-cli-home-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_embedded_default_when_no_url(embedded_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBAC_DATABASE_URL", raising=False)
    env = {"REBAC_HOME": str(embedded_home)}
    code, out, _ = invoke(env, "import", "--direct", "-", stdin="doc:1#viewer@user:tom\n")
    assert code == 0, out
    assert "loaded 1 relationships" in out
    assert (embedded_home / "pgdata" / "PG_VERSION").exists()


# --- import against the current schema ----------------------------------------------------------

SCHEMA = """
caveat ip_ok(cidr string, hits int) {
    hits >= 0 && cidr != ""
}
definition user {}
definition team {
    relation member: user
}
definition doc {
    relation viewer: user | team#member | user with ip_ok
    permission view = viewer
}
"""


@pytest.fixture
def schema_env(empty_database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {"REBAC_DATABASE_URL": empty_database_url}
    assert invoke(env, "migrate")[0] == 0
    write_schema(env, SCHEMA)
    return env


def test_import_conforming_to_the_current_schema(schema_env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text(
        "\n".join(LINES[:3]) + '\ndoc:3#viewer@user:ann[ip_ok:{"cidr":"10.0.0.0/8","hits":2}]\n'
    )
    code, out, err = invoke(schema_env, "import", "--direct", str(source))
    assert code == 0, err
    assert "loaded 3 relationships" in out
    assert "not checked" not in err


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("doc:9#owner@user:tom", "relation 'owner' is not defined on 'doc'"),
        ("folder:9#viewer@user:tom", "object type 'folder' is not defined"),
        ("doc:9#view@user:tom", "doc#view is a permission"),
        ("doc:9#viewer@team:eng", "subject team:eng is not allowed on doc#viewer"),
        ('doc:9#viewer@user:ann[ip_ok:{"cidr":"10.0.0.0/8","hits":"two"}]', "parameter 'hits' expects int"),
        ('doc:9#viewer@user:ann[ip_ok:{"port":22}]', "caveat 'ip_ok' has no parameter(s) port"),
    ],
)
def test_a_nonconforming_line_is_reported_and_nothing_is_written(
    schema_env: dict[str, str], tmp_path: Path, bad: str, reason: str
) -> None:
    source = tmp_path / "in.txt"
    # line 1 and 3 are fine, line 2 is blank, line 4 offends, line 5 would offend too
    source.write_text(f"doc:1#viewer@user:tom\n\ndoc:2#viewer@team:eng#member\n{bad}\nfolder:x#y@user:z\n")
    code, out, err = invoke(schema_env, "import", "--direct", str(source))
    assert code == 1, out
    assert f"{source}:4: " in err
    assert reason in err
    assert "folder:x" not in err  # only the first offending line
    assert stored(schema_env) == []


def test_a_nonconforming_line_from_stdin_names_stdin(schema_env: dict[str, str]) -> None:
    code, _, err = invoke(
        schema_env, "import", "--direct", "-", stdin='{"relationship": "doc:1#editor@user:tom"}\n'
    )
    assert code == 1
    assert "<stdin>:1: relation 'editor' is not defined on 'doc'" in err
    assert stored(schema_env) == []


def test_without_a_schema_import_is_unchecked_until_the_first_schema_write(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {"REBAC_DATABASE_URL": empty_database_url}
    assert invoke(env, "migrate")[0] == 0
    code, out, err = invoke(
        env, "import", "--direct", "-", stdin="doc:1#viewer@user:tom\ndoc:1#owner@user:tom\n"
    )
    assert code == 0, err
    assert "loaded 2 relationships" in out
    assert "no schema is stored" in err

    async def first_write() -> None:
        store = await PostgresTupleStore.connect(env["REBAC_DATABASE_URL"])
        try:
            await Services(store, Settings.from_env()).schemas.write(SCHEMA, author="test")
        finally:
            await store.close()

    with pytest.raises(UnsafeSchemaChangeError) as refused:  # the first write checks what is stored
        asyncio.run(first_write())
    assert "doc:1#owner@user:tom" in str(refused.value.details)
