"""The store contract: protocols and value types.

The contract is :mod:`rebac.store.base` (the role protocols, with the value types of
:mod:`rebac.store.records`) and :mod:`rebac.store.revision`. The engines (``rebac.store.postgres``
with its tables, migrations and embedded server; ``rebac.store.memory``) and the opener
(``rebac.store.factory``) are leaves: only the composition roots, migrations and tests import them.
"""

from __future__ import annotations

from rebac.store.base import (
    ANY_RELATION,
    ApiKey,
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
    KeyStore,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    SchemaStore,
    SchemaVersion,
    StoreRoles,
    TupleReader,
    TupleStore,
    TupleWriter,
    WriteResult,
)
from rebac.store.revision import Revision, decode_token, encode_token

__all__ = [
    "ANY_RELATION",
    "ApiKey",
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
    "KeyStore",
    "Operation",
    "Precondition",
    "PreconditionKind",
    "RelationshipFilter",
    "RelationshipUpdate",
    "Revision",
    "SchemaStore",
    "SchemaVersion",
    "StoreRoles",
    "TupleReader",
    "TupleStore",
    "TupleWriter",
    "WriteResult",
    "decode_token",
    "encode_token",
]
