"""``/v1/schema/*``: write (never orphaning unless forced), read, diff, and version history."""

from __future__ import annotations

import difflib

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from rebac.api import dto
from rebac.api.auth import Principal, require_scope
from rebac.api.problems import problem_responses
from rebac.api.services import Services
from rebac.schema import compile_schema
from rebac.services.schemas import write_schema

__all__ = ["SchemaController"]


class SchemaController(Controller):
    """Schema administration (scope ``schema``)."""

    path = "/v1/schema"
    guards = [require_scope("schema")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["schema"]  # noqa: RUF012

    @post("/write", operation_id="WriteSchema", status_code=200, responses=problem_responses(409))
    async def write(
        self,
        data: JSONBody[dto.SchemaWriteRequest],
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
    ) -> dto.SchemaWriteResponse:
        """Store a new schema version; refused (409) if it would orphan stored relationships."""
        version = await write_schema(
            services.store,
            data.schema,
            author=principal.key_id,
            force=data.force,
            expected_version=data.optional_expected_version,
        )
        services.invalidate()
        head = await services.store.head_revision()
        return dto.SchemaWriteResponse(
            written_at=dto.ZedToken(services.store.token_for(max(head, version.revision))),
            version=version.version,
            hash=version.hash,
        )

    @post("/read", operation_id="ReadSchema", status_code=200, responses=problem_responses())
    async def read(self, services: NamedDependency[Services]) -> dto.SchemaReadResponse:
        """The current schema text."""
        services.invalidate()
        version = await services.current_schema()
        head = await services.store.head_revision()
        return dto.SchemaReadResponse(
            schema_text=version.text,
            read_at=dto.ZedToken(services.store.token_for(head)),
            version=version.version,
            hash=version.hash,
        )

    @post("/diffschema", operation_id="DiffSchema", status_code=200, responses=problem_responses())
    async def diff(
        self, data: JSONBody[dto.SchemaDiffRequest], services: NamedDependency[Services]
    ) -> dto.SchemaDiffResponse:
        """Unified diff between two schemas.

        From the current schema (or ``optionalFromVersion``) to ``comparisonSchema`` (or
        ``optionalToVersion``).
        """
        store = services.store
        if data.optional_from_version is not None:
            old = await store.schema_version(data.optional_from_version)
        else:
            services.invalidate()
            old = await services.current_schema()
        if data.optional_to_version is not None:
            new = await store.schema_version(data.optional_to_version)
            new_text, new_label = new.text, f"version {new.version}"
        else:
            compile_schema(data.comparison_schema, "comparisonSchema")
            new_text, new_label = data.comparison_schema, "comparisonSchema"
        old_label = f"version {old.version}"
        lines = difflib.unified_diff(
            old.text.splitlines(keepends=True), new_text.splitlines(keepends=True), old_label, new_label
        )
        text = "".join(lines)
        head = await store.head_revision()
        return dto.SchemaDiffResponse(
            read_at=dto.ZedToken(store.token_for(head)),
            from_version=old_label,
            to_version=new_label,
            diff=text,
            changed=bool(text),
        )

    @get("/versions", operation_id="ListSchemaVersions", responses=problem_responses())
    async def versions(self, services: NamedDependency[Services]) -> dto.SchemaVersionsResponse:
        """Every stored schema version, oldest first (an addition to SpiceDB's API)."""
        history = await services.store.schema_history()
        current = await services.store.current_schema()
        return dto.SchemaVersionsResponse(
            versions=[
                dto.SchemaVersionInfo(
                    version=v.version,
                    hash=v.hash,
                    author=v.author,
                    created_at=v.created_at.isoformat(),
                    current=current is not None and v.version == current.version,
                )
                for v in history
            ]
        )
