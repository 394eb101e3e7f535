"""Object, subject and relationship values, and the ONE text syntax for them.

The syntax is SpiceDB's::

    document:1#viewer@agent:a7                      plain subject
    document:1#viewer@team:eng#member               subject set (userset)
    document:1#viewer@user:*                        wildcard
    document:1#viewer@user:tom[ip_ok:{"cidr":"10.0.0.0/8"}]          caveat with context
    document:1#viewer@user:tom[ip_ok][expiration:2026-12-01T00:00:00Z]  caveat, then expiry
    document:"https://x.test/a b"#viewer@user:"rick@the-citadel.com"   free (quoted) ids

**Ids.** An id that fits SpiceDB's grammar (letters, digits and ``/_|-=+``) is written as it is;
any other non-empty string is written as a JSON string (``user:"rick@the-citadel.com"``,
``tool:"mcp.tools.search"``, ``user:"ünï"``). Parsing and printing are lossless for every id, and
the text syntax holds the id *as the caller wrote it* (the external id).

**Stored ids.** The store holds SpiceDB-grammar ids only. :func:`encode_id` maps an external id to
its stored id, one-to-one: an id that fits the grammar and does not start with ``=`` is stored as
it is; any other id becomes ``=`` followed by the unpadded base64url of its UTF-8 bytes (so an id
that starts with ``=`` is always encoded, and no two external ids share a stored id).
:func:`decode_id` is the inverse; :func:`stored` and :func:`external` apply them to references.
The server maps at its edges (the v1 API, AuthZEN, import/export, the decision log); the SDK and
the CLI send and receive external ids unchanged.

Every other module (API, CLI, YAML loaders, logs) parses and prints through this module, so there
is exactly one grammar. Bad input raises :class:`rebac.errors.RefSyntaxError` naming the bad part.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from rebac.errors import RefSyntaxError
from rebac.limits import MAX_OBJECT_ID_LENGTH

__all__ = [
    "ELLIPSIS",
    "ESCAPE",
    "ID_RE",
    "MAX_FREE_ID_BYTES",
    "WILDCARD",
    "CaveatRef",
    "ObjectRef",
    "Relationship",
    "SubjectRef",
    "decode_id",
    "encode_id",
    "external",
    "format_expiration",
    "format_id",
    "parse_expiration",
    "parse_object",
    "parse_relationship",
    "parse_subject",
    "shown",
    "shown_text",
    "stored",
]

WILDCARD: Final = "*"
ELLIPSIS: Final = "..."
"""SpiceDB's spelling of "no subject relation"; normalised to ``None`` on parse."""

_SEGMENT = r"[a-z][a-z0-9_]{1,62}[a-z0-9]"
TYPE_RE: Final = re.compile(rf"(?:{_SEGMENT}/)*{_SEGMENT}")
RELATION_RE: Final = re.compile(_SEGMENT)
ID_RE: Final = re.compile(r"[a-zA-Z0-9/_|\-=+]{1,%d}" % MAX_OBJECT_ID_LENGTH)  # noqa: UP031
CAVEAT_NAME_RE: Final = re.compile(rf"(?:{_SEGMENT}/)*[a-z][a-z0-9_]{{0,62}}[a-z0-9]?")
ESCAPE: Final = "="
"""The first character of an encoded (stored) free id."""
MAX_FREE_ID_BYTES: Final = (MAX_OBJECT_ID_LENGTH - len(ESCAPE)) * 3 // 4
"""Longest id (UTF-8 bytes) that needs encoding and whose stored form fits ``MAX_OBJECT_ID_LENGTH``."""


# --- ids: external (as written) <-> stored (SpiceDB grammar) --------------------------------------


def encode_id(raw: str, *, what: str = "id") -> str:
    """The stored id of the external id ``raw`` (one-to-one; :func:`decode_id` undoes it).

    Raises:
        RefSyntaxError: if ``raw`` is empty or its stored form is longer than the id limit.
    """
    if not raw:
        raise RefSyntaxError(f"{what} must be a non-empty string", text=raw, part=what)
    if not raw.startswith(ESCAPE) and ID_RE.fullmatch(raw):
        return raw
    data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_FREE_ID_BYTES:
        raise RefSyntaxError(
            f"{what} is longer than {MAX_FREE_ID_BYTES} bytes ({len(data)} bytes): {raw}", text=raw, part=what
        )
    return ESCAPE + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_id(stored_id: str) -> str:
    """The external id of ``stored_id`` (the inverse of :func:`encode_id`).

    A stored id that starts with ``=`` but is not the canonical encoding of any id (written by hand
    before ids were mapped) is returned unchanged; no external id encodes to it, so it can be read
    but not named from outside, and two stored ids never decode to the same external id.
    """
    if not stored_id.startswith(ESCAPE):
        return stored_id
    body = stored_id[len(ESCAPE) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        canonical = encode_id(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return stored_id
    return raw if canonical == stored_id else stored_id


def format_id(id_: str) -> str:
    """An id as the text syntax writes it: as it is when it fits the grammar, else a JSON string.

    An id that starts with ``=`` is quoted too (``"=x"``), as a reminder that it is stored encoded;
    the parser reads ``=x`` and ``"=x"`` as the same id.
    """
    if not id_.startswith(ESCAPE) and ID_RE.fullmatch(id_):
        return id_
    return json.dumps(id_, ensure_ascii=False)


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """A typed object: ``type:id``."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{format_id(self.id)}"


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
        id_ = WILDCARD if self.id == WILDCARD else format_id(self.id)
        if self.relation is None:
            return f"{self.type}:{id_}"
        return f"{self.type}:{id_}#{self.relation}"


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


def _scan_id(text: str, start: int, stops: str, *, what: str, allow_wildcard: bool) -> tuple[str, int]:
    """The id at ``start`` (plain, ``*`` or a JSON string) and the offset just after it."""
    part = f"{what} id"
    if text.startswith('"', start):
        try:
            value, after = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise _fail(text, part, start, f"not a JSON string ({exc.msg})") from None
        try:
            value.encode("utf-8")
            encode_id(value, what=part)
        except UnicodeEncodeError:
            raise _fail(text, part, start, "the id is not valid Unicode") from None
        except RefSyntaxError as exc:
            raise _fail(text, part, start, exc.message) from None
        return value, after
    end = start
    while end < len(text) and text[end] not in stops:
        end += 1
    if allow_wildcard and text[start:end] == WILDCARD:
        return WILDCARD, end
    return _match(ID_RE, text, start, end, part), end


def _scan_object(
    text: str, start: int, stops: str, *, what: str, allow_wildcard: bool
) -> tuple[ObjectRef, int]:
    colon = start
    while colon < len(text) and text[colon] not in stops and text[colon] != ":":
        colon += 1
    if colon >= len(text) or text[colon] != ":":
        raise _fail(text, f"{what} type", start, "expected 'type:id'")
    type_ = _match(TYPE_RE, text, start, colon, f"{what} type")
    id_, after = _scan_id(text, colon + 1, stops, what=what, allow_wildcard=allow_wildcard)
    return ObjectRef(type_, id_), after


def _expect_end(text: str, pos: int, end: int, part: str) -> None:
    if pos != end:
        raise _fail(text, part, pos, f"unexpected {text[pos:end]!r} after the id")


def parse_object(text: str) -> ObjectRef:
    """Parse ``type:id`` (``type:"free id"`` for an id outside the grammar).

    Raises:
        RefSyntaxError: naming the bad part.
    """
    obj, after = _scan_object(text, 0, "", what="object", allow_wildcard=False)
    _expect_end(text, after, len(text), "object id")
    return obj


def _scan_subject(text: str, start: int, stops: str) -> tuple[SubjectRef, int]:
    obj, pos = _scan_object(text, start, "#" + stops, what="subject", allow_wildcard=True)
    relation: str | None = None
    if pos < len(text) and text[pos] == "#":
        end = pos + 1
        while end < len(text) and text[end] not in stops:
            end += 1
        if text[pos + 1 : end] != ELLIPSIS:
            relation = _match(RELATION_RE, text, pos + 1, end, "subject relation")
        if obj.id == WILDCARD and relation is not None:
            raise _fail(text, "subject relation", pos + 1, "a wildcard subject cannot have a relation")
        pos = end
    return SubjectRef(obj.type, obj.id, relation), pos


def parse_subject(text: str) -> SubjectRef:
    """Parse ``type:id``, ``type:id#relation`` or ``type:*`` (ids may be JSON strings).

    Raises:
        RefSyntaxError: naming the bad part.
    """
    subject, after = _scan_subject(text, 0, "")
    _expect_end(text, after, len(text), "subject")
    return subject


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
    if "@" not in text:
        raise _fail(text, "relationship", 0, "expected 'resource#relation@subject'")
    resource, pos = _scan_object(text, 0, "#@", what="resource", allow_wildcard=False)
    if pos >= len(text) or text[pos] != "#":
        raise _fail(text, "relation", pos, "expected '#relation' before '@'")
    at = text.find("@", pos)
    if at < 0:
        raise _fail(text, "relationship", pos, "expected 'resource#relation@subject'")
    relation = _match(RELATION_RE, text, pos + 1, at, "relation")
    subject, end = _scan_subject(text, at + 1, "[")
    if end < len(text) and text[end] != "[":
        raise _fail(text, "subject", end, f"unexpected {text[end:]!r} after the subject")
    caveat, expires_at = _parse_suffixes(text, end)
    return Relationship(resource, relation, subject, caveat, expires_at)


# --- stored <-> external references ---------------------------------------------------------------


_Ref = TypeVar("_Ref", ObjectRef, SubjectRef, Relationship)


def stored(ref: _Ref) -> _Ref:
    """``ref`` with its ids mapped to their stored form (:func:`encode_id`); wildcards stay.

    Raises:
        RefSyntaxError: an id is empty or too long.
    """
    if isinstance(ref, ObjectRef):
        return ObjectRef(ref.type, encode_id(ref.id, what="object id"))
    if isinstance(ref, SubjectRef):
        if ref.id == WILDCARD:
            return ref
        return SubjectRef(ref.type, encode_id(ref.id, what="subject id"), ref.relation)
    return Relationship(stored(ref.resource), ref.relation, stored(ref.subject), ref.caveat, ref.expires_at)


def shown(ref: _Ref) -> str:
    """The text of ``ref`` as callers wrote it: its stored ids mapped back (:func:`external`)."""
    return str(external(ref))


def shown_text(text: str) -> str:
    """The caller's text of a subject or relationship stored as ``text`` (its ``str``).

    A text that is neither (free text kept beside them) is returned unchanged.
    """
    try:
        return shown(parse_relationship(text)) if "@" in text else shown(parse_subject(text))
    except RefSyntaxError:
        return text


def external(ref: _Ref) -> _Ref:
    """``ref`` with its stored ids mapped back to the ids callers wrote (:func:`decode_id`)."""
    if isinstance(ref, ObjectRef):
        return ObjectRef(ref.type, decode_id(ref.id))
    if isinstance(ref, SubjectRef):
        return ref if ref.id == WILDCARD else SubjectRef(ref.type, decode_id(ref.id), ref.relation)
    return Relationship(
        external(ref.resource), ref.relation, external(ref.subject), ref.caveat, ref.expires_at
    )
