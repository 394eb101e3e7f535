"""The server's JSON, decoded: private camelCase Structs of the wire, and their friendly values.

Each ``decode_*`` function takes a response body and returns the client's own value; a body that
does not have the promised shape raises ``msgspec.ValidationError`` or ``msgspec.DecodeError``
(the client turns both into :class:`~rebac.client.UnexpectedResponse`).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from rebac.client._errors import Problem, problem_of_body
from rebac.client._models import (
    BulkCheckResult,
    CheckResult,
    DelegationHop,
    DeleteResult,
    ExpandResult,
    ExpandTree,
    ImportResult,
    LookupResource,
    LookupSubject,
    Operation,
    Permissionship,
    SchemaDiff,
    SchemaInfo,
    SchemaWriteResult,
    WatchEvent,
    WatchUpdate,
)
from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef, parse_expiration

__all__ = [
    "Obj",
    "Subj",
    "Token",
    "W",
    "WireBulk",
    "WireCheck",
    "WireDelete",
    "WireExpand",
    "WireImport",
    "WireLookupResources",
    "WireLookupSubjects",
    "WireRead",
    "WireSchemaDiff",
    "WireSchemaRead",
    "WireSchemaWrite",
    "WireWatchLine",
    "WireWrite",
    "bulk_of",
    "check_of",
    "delete_of",
    "expand_of",
    "import_of",
    "lookup_resources_of",
    "lookup_subjects_of",
    "obj_of",
    "read_of",
    "relationship_of",
    "schema_diff_of",
    "schema_read_of",
    "schema_write_of",
    "subj_of",
    "watch_event_of",
]


class W(msgspec.Struct, rename="camel"):
    """A wire shape: camelCase names; unknown members are ignored (newer servers add some)."""


class Token(W):
    token: str


class Obj(W):
    object_type: str
    object_id: str


class Subj(W):
    object: Obj
    optional_relation: str = ""


class _Caveat(W):
    caveat_name: str
    context: dict[str, Any] | None = None


class _Rel(W):
    resource: Obj
    relation: str
    subject: Subj
    optional_caveat: _Caveat | None = None
    optional_expires_at: str | None = None


class _Partial(W):
    missing_required_context: list[str]


class _Hop(W):
    subject: Subj
    depth: int
    permissionship: Permissionship
    reason: str
    partial_caveat_info: _Partial | None = None
    principal_of: list[Subj] = []


class _Debug(W):
    check: dict[str, Any]


class WireCheck(W):
    checked_at: Token
    permissionship: Permissionship
    partial_caveat_info: _Partial | None = None
    debug_trace: _Debug | None = None
    optional_expires_at: str | None = None
    decision_id: str | None = None
    delegation: list[_Hop] | None = None


class _BulkItem(W):
    permissionship: Permissionship
    partial_caveat_info: _Partial | None = None
    debug_trace: _Debug | None = None
    delegation: list[_Hop] | None = None


class _Status(W):
    code: int
    message: str
    details: list[dict[str, Any]] = []


class _Pair(W):
    item: _BulkItem | None = None
    error: _Status | None = None
    decision_id: str | None = None


class WireBulk(W):
    checked_at: Token
    pairs: list[_Pair]


class _Leaf(W):
    subjects: list[Subj]


class _Algebra(W):
    operation: Literal["OPERATION_UNION", "OPERATION_INTERSECTION", "OPERATION_EXCLUSION"]
    children: list[_Tree]


class _Tree(W):
    expanded_object: Obj
    expanded_relation: str
    intermediate: _Algebra | None = None
    leaf: _Leaf | None = None


class WireExpand(W):
    expanded_at: Token
    tree_root: _Tree


_LookupValue = Literal["LOOKUP_PERMISSIONSHIP_HAS_PERMISSION", "LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION"]


class _Resource(W):
    resource_object_id: str
    permissionship: _LookupValue
    partial_caveat_info: _Partial | None = None


class WireLookupResources(W):
    looked_up_at: Token
    results: list[_Resource]
    after_result_cursor: Token | None = None


class _Resolved(W):
    subject_object_id: str
    permissionship: _LookupValue
    partial_caveat_info: _Partial | None = None


class _SubjectResult(W):
    subject: _Resolved
    excluded_subjects: list[_Resolved] = []


class WireLookupSubjects(W):
    looked_up_at: Token
    results: list[_SubjectResult]
    after_result_cursor: Token | None = None


class WireWrite(W):
    written_at: Token


class _ReadResult(W):
    relationship: _Rel


class WireRead(W):
    read_at: Token
    results: list[_ReadResult]
    after_result_cursor: Token | None = None


class WireDelete(W):
    deleted_at: Token
    deletion_progress: Literal["DELETION_PROGRESS_COMPLETE", "DELETION_PROGRESS_PARTIAL"]
    relationships_deleted_count: str


class WireImport(W):
    num_loaded: str
    written_at: Token


class WireSchemaWrite(W):
    written_at: Token
    version: int
    hash: str


class WireSchemaRead(W):
    schema_text: str
    read_at: Token
    version: int
    hash: str


class WireSchemaDiff(W):
    read_at: Token
    from_version: str
    to_version: str
    diff: str
    changed: bool


class _WatchUpdate(W):
    operation: Literal["OPERATION_TOUCH", "OPERATION_CREATE", "OPERATION_DELETE"]
    relationship: _Rel


class _WatchResponse(W):
    updates: list[_WatchUpdate]
    changes_through: Token
    is_checkpoint: bool = False


class WireWatchLine(W):
    result: _WatchResponse | None = None
    error: dict[str, Any] | None = None


# --- friendly values -------------------------------------------------------------------------------


def obj_of(ref: Obj) -> ObjectRef:
    return ObjectRef(ref.object_type, ref.object_id)


def subj_of(ref: Subj) -> SubjectRef:
    relation = ref.optional_relation
    return SubjectRef(ref.object.object_type, ref.object.object_id, relation or None)


def _missing(info: _Partial | None) -> tuple[str, ...]:
    return tuple(info.missing_required_context) if info is not None else ()


def relationship_of(rel: _Rel) -> Relationship:
    """A wire relationship → :class:`rebac.refs.Relationship`."""
    caveat = None
    if rel.optional_caveat is not None:
        caveat = CaveatRef(rel.optional_caveat.caveat_name, dict(rel.optional_caveat.context or {}))
    expires = parse_expiration(rel.optional_expires_at) if rel.optional_expires_at else None
    return Relationship(obj_of(rel.resource), rel.relation, subj_of(rel.subject), caveat, expires)


def _hops(hops: list[_Hop] | None) -> tuple[DelegationHop, ...]:
    return tuple(
        DelegationHop(
            subject=subj_of(h.subject),
            depth=h.depth,
            permissionship=h.permissionship,
            reason=h.reason,
            missing_context=_missing(h.partial_caveat_info),
            principal_of=tuple(subj_of(p) for p in h.principal_of),
        )
        for h in hops or ()
    )


def check_of(wire: WireCheck) -> CheckResult:
    """``POST /v1/permissions/check`` → :class:`CheckResult`."""
    return CheckResult(
        permissionship=wire.permissionship,
        checked_at=wire.checked_at.token,
        decision_id=wire.decision_id,
        missing_context=_missing(wire.partial_caveat_info),
        delegation=_hops(wire.delegation),
        expires_at=parse_expiration(wire.optional_expires_at) if wire.optional_expires_at else None,
        trace=wire.debug_trace.check if wire.debug_trace is not None else None,
    )


def _item_problem(status: _Status) -> Problem:
    if status.details:
        return problem_of_body(status.details[0], status.code, status.message)
    return Problem(type="about:blank", title=status.message, status=status.code, detail=status.message)


def bulk_of(wire: WireBulk) -> list[BulkCheckResult]:
    """``POST /v1/permissions/checkbulk`` → one result per item, in request order."""
    out: list[BulkCheckResult] = []
    for pair in wire.pairs:
        item = pair.item
        out.append(
            BulkCheckResult(
                checked_at=wire.checked_at.token,
                permissionship=item.permissionship if item is not None else None,
                error=_item_problem(pair.error) if pair.error is not None else None,
                decision_id=pair.decision_id,
                missing_context=_missing(item.partial_caveat_info) if item is not None else (),
                delegation=_hops(item.delegation) if item is not None else (),
                trace=item.debug_trace.check if item is not None and item.debug_trace else None,
            )
        )
    return out


_OPERATIONS: Final = {
    "OPERATION_UNION": "union",
    "OPERATION_INTERSECTION": "intersection",
    "OPERATION_EXCLUSION": "exclusion",
}


def _tree(node: _Tree) -> ExpandTree:
    if node.intermediate is not None:
        return ExpandTree(
            resource=obj_of(node.expanded_object),
            relation=node.expanded_relation,
            operation=_OPERATIONS[node.intermediate.operation],  # type: ignore[arg-type]
            children=tuple(_tree(child) for child in node.intermediate.children),
        )
    subjects = node.leaf.subjects if node.leaf is not None else []
    return ExpandTree(
        resource=obj_of(node.expanded_object),
        relation=node.expanded_relation,
        subjects=tuple(subj_of(s) for s in subjects),
    )


def expand_of(wire: WireExpand) -> ExpandResult:
    """``POST /v1/permissions/expand`` → :class:`ExpandResult`."""
    return ExpandResult(tree=_tree(wire.tree_root), expanded_at=wire.expanded_at.token)


def _lookup_value(value: str) -> Permissionship:
    if value == "LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION":
        return Permissionship.CONDITIONAL_PERMISSION
    return Permissionship.HAS_PERMISSION


def _cursor(token: Token | None) -> str | None:
    return token.token if token is not None else None


def lookup_resources_of(
    wire: WireLookupResources, resource_type: str
) -> tuple[list[LookupResource], str | None]:
    """One page of ``POST /v1/permissions/resources`` and the cursor of the next one."""
    items = [
        LookupResource(
            resource=ObjectRef(resource_type, r.resource_object_id),
            permissionship=_lookup_value(r.permissionship),
            looked_up_at=wire.looked_up_at.token,
            missing_context=_missing(r.partial_caveat_info),
        )
        for r in wire.results
    ]
    return items, _cursor(wire.after_result_cursor)


def lookup_subjects_of(
    wire: WireLookupSubjects, subject_type: str, subject_relation: str | None
) -> tuple[list[LookupSubject], str | None]:
    """One page of ``POST /v1/permissions/subjects`` and the cursor of the next one."""
    items = [
        LookupSubject(
            subject=SubjectRef(subject_type, r.subject.subject_object_id, subject_relation),
            permissionship=_lookup_value(r.subject.permissionship),
            looked_up_at=wire.looked_up_at.token,
            missing_context=_missing(r.subject.partial_caveat_info),
            excluded=tuple(SubjectRef(subject_type, x.subject_object_id) for x in r.excluded_subjects),
        )
        for r in wire.results
    ]
    return items, _cursor(wire.after_result_cursor)


def read_of(wire: WireRead) -> tuple[list[Relationship], str | None]:
    """One page of ``POST /v1/relationships/read`` and the cursor of the next one."""
    return [relationship_of(r.relationship) for r in wire.results], _cursor(wire.after_result_cursor)


def delete_of(wire: WireDelete) -> DeleteResult:
    """``POST /v1/relationships/delete`` → :class:`DeleteResult`."""
    return DeleteResult(
        deleted_at=wire.deleted_at.token,
        deleted_count=int(wire.relationships_deleted_count),
        partial=wire.deletion_progress == "DELETION_PROGRESS_PARTIAL",
    )


def import_of(wire: WireImport) -> ImportResult:
    """``POST /v1/relationships/importbulk`` → :class:`ImportResult`."""
    return ImportResult(loaded=int(wire.num_loaded), written_at=wire.written_at.token)


def schema_write_of(wire: WireSchemaWrite) -> SchemaWriteResult:
    """``POST /v1/schema/write`` → :class:`SchemaWriteResult`."""
    return SchemaWriteResult(written_at=wire.written_at.token, version=wire.version, hash=wire.hash)


def schema_read_of(wire: WireSchemaRead) -> SchemaInfo:
    """``POST /v1/schema/read`` → :class:`SchemaInfo`."""
    return SchemaInfo(text=wire.schema_text, version=wire.version, hash=wire.hash, read_at=wire.read_at.token)


def schema_diff_of(wire: WireSchemaDiff) -> SchemaDiff:
    """``POST /v1/schema/diffschema`` → :class:`SchemaDiff`."""
    return SchemaDiff(
        from_version=wire.from_version,
        to_version=wire.to_version,
        diff=wire.diff,
        changed=wire.changed,
        read_at=wire.read_at.token,
    )


def watch_event_of(wire: _WatchResponse) -> WatchEvent:
    """One ``result`` of ``/v1/watch`` → :class:`WatchEvent`."""
    return WatchEvent(
        updates=tuple(
            WatchUpdate(operation=Operation(u.operation), relationship=relationship_of(u.relationship))
            for u in wire.updates
        ),
        changes_through=wire.changes_through.token,
        is_checkpoint=wire.is_checkpoint,
    )
