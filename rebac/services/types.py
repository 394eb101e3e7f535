"""The values the services take and return, for their callers (the API and the CLI).

Callers above the service layer import these names from here, never from ``rebac.engine`` or
``rebac.store``: the service layer is their whole contract. The types themselves are defined
where they belong (the store contract, the engine's results) and re-exported unchanged.
"""

from __future__ import annotations

from rebac.engine import (
    CheckItem,
    CheckResult,
    ExpandKind,
    ExpandNode,
    ExpandSubject,
    Hop,
    HopReason,
    LookupPage,
    LookupResourceItem,
    LookupSubjectItem,
    Permissionship,
)
from rebac.engine.trace import CheckTrace
from rebac.services.engines import Current
from rebac.store.base import (
    ANY_RELATION,
    ApiKey,
    Change,
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionRecord,
    DecisionResult,
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    RelationshipVersion,
    Review,
    SchemaVersion,
    WriteResult,
)
from rebac.store.revision import Revision

__all__ = [
    "ANY_RELATION",
    "ApiKey",
    "Change",
    "CheckItem",
    "CheckResult",
    "CheckTrace",
    "Consistency",
    "ConsistencyMode",
    "Current",
    "DecisionFilter",
    "DecisionRecord",
    "DecisionResult",
    "ExpandKind",
    "ExpandNode",
    "ExpandSubject",
    "Hop",
    "HopReason",
    "ImportResult",
    "LookupPage",
    "LookupResourceItem",
    "LookupSubjectItem",
    "Operation",
    "Permissionship",
    "Precondition",
    "PreconditionKind",
    "RelationshipFilter",
    "RelationshipUpdate",
    "RelationshipVersion",
    "Review",
    "Revision",
    "SchemaVersion",
    "WriteResult",
]
