"""The reference schemas in ``schema/`` compile, and their validation files fit them.

The engine's validation runner (``rebac validate``) executes the assertions; here we only check
that everything in the files is well-formed against the schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from schema_testdata import REFERENCE_SCHEMAS

from rebac.refs import parse_relationship
from rebac.schema import TypeSystem, compile_schema, format_schema, ir
from rebac.schema.conformity import nonconformity

SCHEMAS = sorted(REFERENCE_SCHEMAS.rglob("*.zed"))
VALIDATION_FILES = sorted(REFERENCE_SCHEMAS.rglob("*.yaml"))


def load(path: Path) -> tuple[ir.Schema, dict[str, object]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if "schemaFile" in data:
        schema_path = (path.parent / str(data["schemaFile"])).resolve()
        return compile_schema(schema_path.read_text(encoding="utf-8"), str(schema_path)), data
    return compile_schema(str(data["schema"]), str(path)), data


def test_the_reference_set_is_there() -> None:
    names = {p.relative_to(REFERENCE_SCHEMAS).as_posix() for p in SCHEMAS}
    assert {"agents.zed", "examples/saas_docs.zed", "examples/mcp_gateway.zed"} <= names
    for schema in SCHEMAS:
        assert schema.with_suffix(".yaml") in VALIDATION_FILES


@pytest.mark.parametrize("path", SCHEMAS, ids=[p.name for p in SCHEMAS])
def test_reference_schema_compiles_and_is_canonical_up_to_comments(path: Path) -> None:
    schema = compile_schema(path.read_text(encoding="utf-8"), str(path))
    assert compile_schema(format_schema(schema)) == schema


def test_agents_schema_declares_delegation() -> None:
    types = TypeSystem(compile_schema((REFERENCE_SCHEMAS / "agents.zed").read_text(encoding="utf-8")))
    assert types.delegation_relation("agent") == "principal"
    assert types.may_reach("tool", "invoke", "agent", None)
    assert not types.may_reach("tool", "invoke", "folder", None)


@pytest.mark.parametrize("path", VALIDATION_FILES, ids=[p.name for p in VALIDATION_FILES])
def test_validation_file_fits_its_schema(path: Path) -> None:
    schema, data = load(path)
    lines = [line.strip() for line in str(data["relationships"]).splitlines()]
    relationships = [parse_relationship(line) for line in lines if line and not line.startswith("//")]
    assert relationships
    for relationship in relationships:
        assert nonconformity(schema, relationship) is None, str(relationship)
    assertions = data["assertions"]
    assert isinstance(assertions, dict)
    assert set(assertions) <= {"assertTrue", "assertFalse", "assertCaveated"}
    types = TypeSystem(schema)
    for items in assertions.values():
        for item in items:
            text = str(item).split(" with ", 1)[0]
            check = parse_relationship(text)
            types.member(check.resource.type, check.relation)
            types.definition(check.subject.type)


def test_demo_relationships_fit_the_agents_schema() -> None:
    """``rebac serve --demo`` loads ``schema/agents_demo.txt`` into ``schema/agents.zed``."""
    demo = REFERENCE_SCHEMAS / "agents_demo.txt"
    assert demo.exists(), "rebac serve --demo needs schema/agents_demo.txt"
    schema = compile_schema((REFERENCE_SCHEMAS / "agents.zed").read_text(encoding="utf-8"))
    lines = [line.strip() for line in demo.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line and not line.startswith("//"):
            assert nonconformity(schema, parse_relationship(line)) is None, line
