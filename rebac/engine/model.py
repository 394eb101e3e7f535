"""The engine's view of one compiled schema: IR, compiled caveats, a hash and a pruning oracle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from rebac.engine.caveats import CaveatSet
from rebac.errors import UnknownRelationError, UnknownTypeError
from rebac.schema.ir import Definition, Permission, Relation, Schema
from rebac.schema.typesystem import TypeSystem

__all__ = ["Reachability", "SchemaModel", "reachability_for"]


def reachability_for(schema: Schema) -> Reachability:
    """The schema's type system, used as the pruning oracle."""
    return TypeSystem(schema)


class Reachability(Protocol):
    """What the engine needs from ``rebac.schema.typesystem.TypeSystem`` to prune before I/O."""

    def may_reach(
        self, resource_type: str, relation: str, subject_type: str, subject_relation: str | None
    ) -> bool:
        """False only when no relationship data can connect the two."""
        ...


@dataclass(frozen=True, slots=True)
class SchemaModel:
    """A schema ready for evaluation.

    Attributes:
        schema: The compiled IR.
        hash: Identifies the schema in cache keys (the stored version's hash when known).
        caveats: Every caveat, compiled once.
        reachability: Optional type-graph oracle used to skip impossible sub-problems.
    """

    schema: Schema
    hash: str
    caveats: CaveatSet
    reachability: Reachability | None = None

    @classmethod
    def build(
        cls, schema: Schema, *, schema_hash: str | None = None, reachability: Reachability | None = None
    ) -> SchemaModel:
        """Compile the caveats of ``schema`` and fix its hash."""
        digest = schema_hash or hashlib.sha256(repr(schema).encode()).hexdigest()
        return cls(schema, digest, CaveatSet(schema.caveats), reachability)

    def definition(self, type_name: str) -> Definition:
        """The definition of ``type_name``.

        Raises:
            UnknownTypeError: if the schema does not define it.
        """
        found = self.schema.definitions.get(type_name)
        if found is None:
            raise UnknownTypeError(f"object type {type_name!r} is not defined in the schema")
        return found

    def member(self, type_name: str, name: str) -> Relation | Permission:
        """The relation or permission ``name`` of ``type_name``.

        Raises:
            UnknownTypeError: if the type is not defined.
            UnknownRelationError: if it has no such relation or permission.
        """
        found = self.definition(type_name).member(name)
        if found is None:
            raise UnknownRelationError(f"{type_name!r} has no relation or permission {name!r}")
        return found

    def has_member(self, type_name: str, name: str) -> bool:
        """True when ``type_name`` is defined and has ``name``."""
        definition = self.schema.definitions.get(type_name)
        return definition is not None and definition.member(name) is not None

    def may_reach(
        self, resource_type: str, relation: str, subject_type: str, subject_relation: str | None
    ) -> bool:
        """Type-level pruning; True when no oracle is configured."""
        if self.reachability is None:
            return True
        return self.reachability.may_reach(resource_type, relation, subject_type, subject_relation)
