"""Object, subject and relationship values, and the ONE text syntax for them.

The syntax is SpiceDB's::

    document:1#viewer@agent:a7                      plain subject
    document:1#viewer@team:eng#member               subject set (userset)
    document:1#viewer@user:*                        wildcard
    document:1#viewer@user:tom[ip_ok:{"cidr":"10.0.0.0/8"}]          caveat with context
    document:1#viewer@user:tom[ip_ok][expiration:2026-12-01T00:00:00Z]  caveat, then expiry

Every other module (API, CLI, YAML loaders, logs) parses and prints through this module, so there
is exactly one grammar. Bad input raises :class:`rebac.errors.RefSyntaxError` naming the bad part.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rebac.errors import RefSyntaxError
from rebac.limits import MAX_OBJECT_ID_LENGTH

__all__ = [
    "ELLIPSIS",
    "WILDCARD",
    "CaveatRef",
    "ObjectRef",
    "Relationship",
    "SubjectRef",
    "format_expiration",
    "parse_expiration",
    "parse_object",
    "parse_relationship",
    "parse_subject",
]

WILDCARD: Final = "*"
ELLIPSIS: Final = "..."
"""SpiceDB's spelling of "no subject relation"; normalised to ``None`` on parse."""

_SEGMENT = r"[a-z][a-z0-9_]{1,62}[a-z0-9]"
TYPE_RE: Final = re.compile(rf"(?:{_SEGMENT}/)*{_SEGMENT}")
RELATION_RE: Final = re.compile(_SEGMENT)
ID_RE: Final = re.compile(r"[a-zA-Z0-9/_|\-=+]{1,%d}" % MAX_OBJECT_ID_LENGTH)  # noqa: UP031
CAVEAT_NAME_RE: Final = re.compile(rf"(?:{_SEGMENT}/)*[a-z][a-z0-9_]{{0,62}}[a-z0-9]?")


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """A typed object: ``type:id``."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True, slots=True, order=True)
class SubjectRef:
    """The subject of a relationship or check: an object, a subject set, or a wildcard.

    Attributes:
        type: Subject object type.
        id: Subject object id, or ``*`` for a wildcard.
        relation: Subject relation for a subject set (``team:eng#member``), else ``None``.
    """

    type: str
    id: str
    relation: str | None = None

    @property
    def is_wildcard(self) -> bool:
        """True for ``type:*``."""
        return self.id == WILDCARD

    @property
    def object(self) -> ObjectRef:
        """The subject's object, without its relation."""
        return ObjectRef(self.type, self.id)

    def __str__(self) -> str:
        if self.relation is None:
            return f"{self.type}:{self.id}"
        return f"{self.type}:{self.id}#{self.relation}"


@dataclass(frozen=True, slots=True)
class CaveatRef:
    """A caveat attached to a relationship: its name and the context stored with it.

    ``context`` must be treated as read-only; equality and hashing use its canonical JSON.
    """

    name: str
    context: dict[str, Any]

    def context_json(self) -> str:
        """Canonical JSON of the context (sorted keys, no spaces)."""
        return json.dumps(self.context, sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CaveatRef):
            return NotImplemented
        return self.name == other.name and self.context_json() == other.context_json()

    def __hash__(self) -> int:
        return hash((self.name, self.context_json()))

    def __str__(self) -> str:
        if not self.context:
            return self.name
        return f"{self.name}:{self.context_json()}"


@dataclass(frozen=True, slots=True)
class Relationship:
    """``resource#relation@subject`` with an optional caveat and expiration.

    Identity (:meth:`key`) excludes the caveat and expiration, as in SpiceDB: a TOUCH of the
    same key replaces them.
    """

    resource: ObjectRef
    relation: str
    subject: SubjectRef
    caveat: CaveatRef | None = None
    expires_at: datetime | None = None

    def key(self) -> tuple[str, str, str, str, str, str]:
        """The identity tuple: resource type/id, relation, subject type/id/relation ('' if none)."""
        return (
            self.resource.type,
            self.resource.id,
            self.relation,
            self.subject.type,
            self.subject.id,
            self.subject.relation or "",
        )

    def is_expired(self, now: datetime) -> bool:
        """True when the relationship has an expiration at or before ``now``."""
        return self.expires_at is not None and self.expires_at <= now

    def __str__(self) -> str:
        text = f"{self.resource}#{self.relation}@{self.subject}"
        if self.caveat is not None:
            text += f"[{self.caveat}]"
        if self.expires_at is not None:
            text += f"[expiration:{format_expiration(self.expires_at)}]"
        return text


# --- parsing -------------------------------------------------------------------------------------


def _fail(text: str, part: str, position: int, why: str) -> RefSyntaxError:
    return RefSyntaxError(
        f"invalid {part} in {text!r} at offset {position}: {why}",
        text=text,
        part=part,
        position=position,
    )


def _match(pattern: re.Pattern[str], text: str, start: int, end: int, part: str) -> str:
    value = text[start:end]
    if not value:
        raise _fail(text, part, start, "it is empty")
    if pattern.fullmatch(value) is None:
        raise _fail(text, part, start, f"{value!r} is not a valid {part}")
    return value


def _parse_object_span(text: str, start: int, end: int, *, what: str, allow_wildcard: bool) -> ObjectRef:
    colon = text.find(":", start, end)
    if colon < 0:
        raise _fail(text, f"{what} type", start, "expected 'type:id'")
    type_ = _match(TYPE_RE, text, start, colon, f"{what} type")
    if allow_wildcard and text[colon + 1 : end] == WILDCARD:
        return ObjectRef(type_, WILDCARD)
    id_ = _match(ID_RE, text, colon + 1, end, f"{what} id")
    return ObjectRef(type_, id_)


def parse_object(text: str) -> ObjectRef:
    """Parse ``type:id``.

    Raises:
        RefSyntaxError: naming the bad part.
    """
    return _parse_object_span(text, 0, len(text), what="object", allow_wildcard=False)


def _parse_subject_span(text: str, start: int, end: int) -> SubjectRef:
    hash_ = text.find("#", start, end)
    obj_end = end if hash_ < 0 else hash_
    obj = _parse_object_span(text, start, obj_end, what="subject", allow_wildcard=True)
    relation: str | None = None
    if hash_ >= 0:
        rel_text = text[hash_ + 1 : end]
        if rel_text != ELLIPSIS:
            relation = _match(RELATION_RE, text, hash_ + 1, end, "subject relation")
        if obj.id == WILDCARD and relation is not None:
            raise _fail(text, "subject relation", hash_ + 1, "a wildcard subject cannot have a relation")
    return SubjectRef(obj.type, obj.id, relation)


def parse_subject(text: str) -> SubjectRef:
    """Parse ``type:id``, ``type:id#relation`` or ``type:*``.

    Raises:
        RefSyntaxError: naming the bad part.
    """
    return _parse_subject_span(text, 0, len(text))


def parse_expiration(text: str, *, source: str | None = None, position: int = 0) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime.

    Raises:
        RefSyntaxError: if the text is not RFC 3339 with a time zone.
    """
    full = source if source is not None else text
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise _fail(full, "expiration", position, f"{text!r} is not an RFC 3339 timestamp") from None
    if value.tzinfo is None:
        raise _fail(full, "expiration", position, "the timestamp needs a time zone (e.g. 'Z')")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past year 9999 in UTC (found by tests/fuzz)
        raise _fail(full, "expiration", position, f"{text!r} is out of range in UTC") from None


def format_expiration(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


_DECODER: Final = json.JSONDecoder()


def _parse_suffixes(text: str, pos: int) -> tuple[CaveatRef | None, datetime | None]:
    caveat: CaveatRef | None = None
    expires_at: datetime | None = None
    while pos < len(text):
        if text[pos] != "[":
            raise _fail(text, "relationship", pos, "expected '[' or the end of the text")
        stop = pos + 1
        while stop < len(text) and text[stop] not in ":]":
            stop += 1
        if stop >= len(text):
            raise _fail(text, "caveat", pos, "unterminated '['")
        name = text[pos + 1 : stop]
        if name == "expiration":
            if expires_at is not None:
                raise _fail(text, "expiration", pos, "expiration given twice")
            if text[stop] != ":":
                raise _fail(text, "expiration", stop, "expected ':' and a timestamp")
            close = text.find("]", stop)
            if close < 0:
                raise _fail(text, "expiration", stop, "unterminated '['")
            expires_at = parse_expiration(text[stop + 1 : close], source=text, position=stop + 1)
            pos = close + 1
            continue
        if caveat is not None or expires_at is not None:
            raise _fail(text, "caveat", pos, "the caveat must come once, before the expiration")
        _match(CAVEAT_NAME_RE, text, pos + 1, stop, "caveat name")
        context: dict[str, Any] = {}
        if text[stop] == ":":
            try:
                value, after = _DECODER.raw_decode(text, stop + 1)
            except json.JSONDecodeError as exc:
                raise _fail(text, "caveat context", stop + 1, f"not JSON ({exc.msg})") from None
            except RecursionError:  # JSON nested thousands deep (found by tests/fuzz)
                raise _fail(text, "caveat context", stop + 1, "the context is nested too deeply") from None
            if not isinstance(value, dict):
                raise _fail(text, "caveat context", stop + 1, "the context must be a JSON object")
            context = value
            stop = after
            if stop >= len(text) or text[stop] != "]":
                raise _fail(text, "caveat context", stop, "expected ']' after the context")
        caveat = CaveatRef(name, context)
        pos = stop + 1
    return caveat, expires_at


def parse_relationship(text: str) -> Relationship:
    """Parse ``type:id#relation@subject[caveat:{json}][expiration:RFC3339]``.

    Surrounding whitespace is ignored.

    Raises:
        RefSyntaxError: naming the bad part and its offset.
    """
    text = text.strip()
    at = text.find("@")
    if at < 0:
        raise _fail(text, "relationship", 0, "expected 'resource#relation@subject'")
    hash_ = text.find("#", 0, at)
    if hash_ < 0:
        raise _fail(text, "relation", 0, "expected '#relation' before '@'")
    resource = _parse_object_span(text, 0, hash_, what="resource", allow_wildcard=False)
    relation = _match(RELATION_RE, text, hash_ + 1, at, "relation")
    bracket = text.find("[", at)
    end = len(text) if bracket < 0 else bracket
    subject = _parse_subject_span(text, at + 1, end)
    caveat, expires_at = _parse_suffixes(text, end)
    return Relationship(resource, relation, subject, caveat, expires_at)
