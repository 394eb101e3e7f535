"""``zed validate`` files: parse them (keeping line numbers) and run them against a store.

Format (SpiceDB's validation file)::

    schema: |-            # or  schemaFile: ./path.zed  (relative to the YAML file)
      definition user {}
    relationships: |-     # or  relationshipsFile: ./rels.txt ; one per line, `//` comments
      document:1#viewer@user:tom
    assertions:
      assertTrue:     ["document:1#view@user:tom", 'document:1#view@user:amy with {"x": 1}']
      assertFalse:    [...]
      assertCaveated: [...]
    validation:       # expected relations (optional)
      document:1#view:
        - "[user:tom] is <document:1#viewer>"

The runner lives here (engine layer) so the CLI, the API and the tests share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from rebac.errors import RefSyntaxError, ValidationFileError
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_object, parse_relationship

__all__ = [
    "ASSERTION_KINDS",
    "Assertion",
    "ExpectedRelation",
    "ExpectedSubject",
    "SourcedRelationship",
    "ValidationFile",
    "load_validation_file",
    "parse_validation_text",
]

AssertionKind = Literal["assertTrue", "assertFalse", "assertCaveated"]
ASSERTION_KINDS: Final[tuple[AssertionKind, ...]] = ("assertTrue", "assertCaveated", "assertFalse")
_KNOWN_KEYS: Final = {
    "schema",
    "schemaFile",
    "relationships",
    "relationshipsFile",
    "assertions",
    "validation",
}
_EXPECTED_RE: Final = re.compile(r"^\s*\[(?P<subject>[^\]]+(?:\[[^\]]*\])?)\]\s*is\s*(?P<origins>.*)$")
_ORIGIN_RE: Final = re.compile(r"<([^>]+)>")


@dataclass(frozen=True, slots=True)
class SourcedRelationship:
    """A relationship and the line it came from."""

    relationship: Relationship
    line: int


@dataclass(frozen=True, slots=True)
class Assertion:
    """One assertion: ``resource#permission@subject [with {context}]`` and its expected outcome."""

    kind: AssertionKind
    text: str
    resource: ObjectRef
    permission: str
    subject: SubjectRef
    context: Mapping[str, Any]
    line: int


@dataclass(frozen=True, slots=True)
class ExpectedSubject:
    """One ``[subject] is <origin>, <origin>`` line of the validation section."""

    subject: str
    origins: frozenset[str]
    line: int


@dataclass(frozen=True, slots=True)
class ExpectedRelation:
    """The expected subjects of one ``resource#permission`` key."""

    resource: ObjectRef
    permission: str
    subjects: tuple[ExpectedSubject, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ValidationFile:
    """A parsed validation file."""

    source: str
    schema_text: str
    schema_source: str
    relationships: tuple[SourcedRelationship, ...] = ()
    assertions: tuple[Assertion, ...] = ()
    expected: tuple[ExpectedRelation, ...] = field(default=())


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _fail(source: str, message: str, line: int = 0) -> ValidationFileError:
    return ValidationFileError(message, source=source, line=line)


def _scalar(node: yaml.Node, source: str, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(source, f"{what} must be a string", _line(node))
    return str(node.value) if node.value is not None else ""


def _read_relative(base: Path | None, name: str, source: str, line: int) -> tuple[str, str]:
    if base is None:
        raise _fail(source, f"cannot resolve {name!r} without a file location", line)
    path = (base / name).resolve()
    if not path.is_relative_to(base.resolve()):
        raise _fail(source, f"{name!r} is outside the validation file's directory", line)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise _fail(source, f"cannot read {name!r}: {exc.strerror}", line) from None


def _find_line(lines: list[str], text: str, start: int) -> int:
    for index in range(max(start - 1, 0), len(lines)):
        if text in lines[index]:
            return index + 1
    return start


def _parse_relationships(
    text: str, source: str, file_lines: list[str], start_line: int
) -> tuple[SourcedRelationship, ...]:
    out: list[SourcedRelationship] = []
    cursor = start_line
    for raw in text.splitlines():
        line_text = raw.strip()
        if not line_text or line_text.startswith("//"):
            continue
        line = _find_line(file_lines, line_text, cursor)
        cursor = line
        try:
            out.append(SourcedRelationship(parse_relationship(line_text), line))
        except RefSyntaxError as exc:
            raise _fail(source, f"invalid relationship {line_text!r}: {exc}", line) from None
    return tuple(out)


def _parse_assertion(kind: AssertionKind, node: yaml.Node, source: str) -> Assertion:
    text = _scalar(node, source, "an assertion").strip()
    line = _line(node)
    rel_text, sep, context_text = text.partition(" with ")
    context: dict[str, Any] = {}
    if sep:
        try:
            value = json.loads(context_text)
        except json.JSONDecodeError as exc:
            raise _fail(source, f"invalid caveat context in {text!r}: {exc.msg}", line) from None
        if not isinstance(value, dict):
            raise _fail(source, f"the caveat context in {text!r} must be a JSON object", line)
        context = value
    try:
        rel = parse_relationship(rel_text.strip())
    except RefSyntaxError as exc:
        raise _fail(source, f"invalid assertion {text!r}: {exc}", line) from None
    if rel.caveat is not None or rel.expires_at is not None:
        raise _fail(source, f"assertion {text!r} may not carry a caveat or expiration", line)
    return Assertion(kind, text, rel.resource, rel.relation, rel.subject, context, line)


def _parse_assertions(node: yaml.Node | None, source: str) -> tuple[Assertion, ...]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in {"", "null", "~"}):
        return ()
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, "assertions must be a mapping", _line(node))
    out: list[Assertion] = []
    for key_node, value_node in node.value:
        kind = _scalar(key_node, source, "an assertion kind")
        if kind not in ASSERTION_KINDS:
            raise _fail(source, f"unknown assertion kind {kind!r}", _line(key_node))
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in {"", "null", "~"}:
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise _fail(source, f"{kind} must be a list", _line(value_node))
        out.extend(_parse_assertion(kind, item, source) for item in value_node.value)
    return tuple(out)


def _parse_expected(node: yaml.Node | None, source: str) -> tuple[ExpectedRelation, ...]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in {"", "null", "~"}):
        return ()
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, "validation must be a mapping", _line(node))
    out: list[ExpectedRelation] = []
    for key_node, value_node in node.value:
        key = _scalar(key_node, source, "a validation key")
        resource_text, sep, permission = key.partition("#")
        if not sep:
            raise _fail(source, f"validation key {key!r} must be resource#permission", _line(key_node))
        try:
            resource = parse_object(resource_text)
        except RefSyntaxError as exc:
            raise _fail(source, f"invalid validation key {key!r}: {exc}", _line(key_node)) from None
        subjects: list[ExpectedSubject] = []
        if isinstance(value_node, yaml.SequenceNode):
            for item in value_node.value:
                text = _scalar(item, source, "an expected subject")
                match = _EXPECTED_RE.match(text)
                if match is None:
                    raise _fail(source, f"invalid expected subject {text!r}", _line(item))
                origins = frozenset(_ORIGIN_RE.findall(match.group("origins")))
                subjects.append(ExpectedSubject(match.group("subject").strip(), origins, _line(item)))
        elif not (isinstance(value_node, yaml.ScalarNode) and value_node.value in {"", "null", "~"}):
            raise _fail(source, f"{key} must list expected subjects", _line(value_node))
        out.append(ExpectedRelation(resource, permission, tuple(subjects), _line(key_node)))
    return tuple(out)


def parse_validation_text(text: str, source: str, base_dir: Path | None = None) -> ValidationFile:
    """Parse the YAML text of a validation file.

    Raises:
        ValidationFileError: positioned, when the file is malformed.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else 0
        raise _fail(source, f"invalid YAML: {exc}", line) from None
    if root is None:
        raise _fail(source, "the file is empty")
    if not isinstance(root, yaml.MappingNode):
        raise _fail(source, "the file must be a YAML mapping", _line(root))
    nodes: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in root.value:
        key = _scalar(key_node, source, "a top-level key")
        if key not in _KNOWN_KEYS:
            raise _fail(source, f"unknown top-level key {key!r}", _line(key_node))
        nodes[key] = (key_node, value_node)
    if "schema" in nodes and "schemaFile" in nodes:
        raise _fail(source, "give either schema or schemaFile, not both", _line(nodes["schemaFile"][0]))
    file_lines = text.splitlines()
    if "schema" in nodes:
        schema_node = nodes["schema"][1]
        schema_text = _scalar(schema_node, source, "schema")
        schema_source = source
    elif "schemaFile" in nodes:
        schema_node = nodes["schemaFile"][1]
        name = _scalar(schema_node, source, "schemaFile")
        schema_text, schema_source = _read_relative(base_dir, name, source, _line(schema_node))
    else:
        raise _fail(source, "the file has no schema (schema or schemaFile)")
    relationships: tuple[SourcedRelationship, ...] = ()
    if "relationships" in nodes and "relationshipsFile" in nodes:
        raise _fail(source, "give either relationships or relationshipsFile, not both")
    if "relationships" in nodes:
        rel_node = nodes["relationships"][1]
        relationships = _parse_relationships(
            _scalar(rel_node, source, "relationships"), source, file_lines, _line(rel_node)
        )
    elif "relationshipsFile" in nodes:
        rel_node = nodes["relationshipsFile"][1]
        name = _scalar(rel_node, source, "relationshipsFile")
        rel_text, rel_source = _read_relative(base_dir, name, source, _line(rel_node))
        relationships = _parse_relationships(rel_text, rel_source, rel_text.splitlines(), 1)
    assertions = _parse_assertions(nodes.get("assertions", (None, None))[1], source)
    expected = _parse_expected(nodes.get("validation", (None, None))[1], source)
    return ValidationFile(source, schema_text, schema_source, relationships, assertions, expected)


def load_validation_file(path: Path) -> ValidationFile:
    """Read and parse a validation file; ``schemaFile`` paths resolve next to it.

    Raises:
        ValidationFileError: when the file cannot be read or is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(str(path), f"cannot read the file: {exc.strerror}") from None
    return parse_validation_text(text, str(path), path.parent)
