"""The store contract: protocols and value types.

Engines (``rebac.store.postgres``, ``rebac.store.memory``), the tables (``rebac.store.postgres.models``) and
the opener (``rebac.store.factory``) are leaves: import them from their modules where needed.
"""

from __future__ import annotations

from rebac.store.base import (
    ANY_RELATION,
    Change,
    Changelog,
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionKey,
    DecisionLog,
    DecisionRecord,
    DecisionResult,
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    SchemaStore,
    SchemaVersion,
    TupleReader,
    TupleStore,
    TupleWriter,
    WriteResult,
)
from rebac.store.revision import Revision, decode_token, encode_token

__all__ = [
    "ANY_RELATION",
    "Change",
    "Changelog",
    "Consistency",
    "ConsistencyMode",
    "DecisionFilter",
    "DecisionKey",
    "DecisionLog",
    "DecisionRecord",
    "DecisionResult",
    "ImportResult",
    "Operation",
    "Precondition",
    "PreconditionKind",
    "RelationshipFilter",
    "RelationshipUpdate",
    "Revision",
    "SchemaStore",
    "SchemaVersion",
    "TupleReader",
    "TupleStore",
    "TupleWriter",
    "WriteResult",
    "decode_token",
    "encode_token",
]
