"""``/v1/schema/*``: write (never orphaning unless forced), read, diff, and version history."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from rebac.api import dto
from rebac.api.auth import Principal, require_scope
from rebac.api.problems import problem_responses
from rebac.services.core import Services
from rebac.services.language import check_text
from rebac.services.schemas import diff_texts

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
        version, revision = await services.schemas.write(
            data.schema,
            author=principal.key_id,
            force=data.force,
            expected_version=data.optional_expected_version,
        )
        return dto.SchemaWriteResponse(
            written_at=dto.ZedToken(services.token_for(revision)), version=version.version, hash=version.hash
        )

    @post("/read", operation_id="ReadSchema", status_code=200, responses=problem_responses())
    async def read(self, services: NamedDependency[Services]) -> dto.SchemaReadResponse:
        """The current schema text."""
        version = await services.schemas.current()
        head = await services.schemas.head()
        return dto.SchemaReadResponse(
            schema_text=version.text,
            read_at=dto.ZedToken(services.token_for(head)),
            version=version.version,
            hash=version.hash,
        )

    @get("/versions/{version:int}", operation_id="ReadSchemaVersion", responses=problem_responses())
    async def read_version(
        self,
        version: Annotated[int, PathParameter(description="The version number (1 is the first write).")],
        services: NamedDependency[Services],
    ) -> dto.SchemaReadResponse:
        """One stored schema version's text, exactly as written (404 when there is no such version)."""
        stored = await services.schemas.version(version)
        head = await services.schemas.head()
        return dto.SchemaReadResponse(
            schema_text=stored.text,
            read_at=dto.ZedToken(services.token_for(head)),
            version=stored.version,
            hash=stored.hash,
        )

    @post("/diffschema", operation_id="DiffSchema", status_code=200, responses=problem_responses())
    async def diff(
        self, data: JSONBody[dto.SchemaDiffRequest], services: NamedDependency[Services]
    ) -> dto.SchemaDiffResponse:
        """Unified diff between two schemas.

        From the current schema (or ``optionalFromVersion``) to ``comparisonSchema`` (or
        ``optionalToVersion``).
        """
        schemas = services.schemas
        if data.optional_from_version is not None:
            old = await schemas.version(data.optional_from_version)
        else:
            old = await schemas.current()
        if data.optional_to_version is not None:
            new = await schemas.version(data.optional_to_version)
            new_text, new_label = new.text, f"version {new.version}"
        else:
            check_text(data.comparison_schema, "comparisonSchema")
            new_text, new_label = data.comparison_schema, "comparisonSchema"
        found = diff_texts(old.text, new_text, f"version {old.version}", new_label)
        head = await schemas.head()
        return dto.SchemaDiffResponse(
            read_at=dto.ZedToken(services.token_for(head)),
            from_version=found.old_label,
            to_version=found.new_label,
            diff=found.unified,
            changed=found.changed,
        )

    @get("/versions", operation_id="ListSchemaVersions", responses=problem_responses())
    async def versions(self, services: NamedDependency[Services]) -> dto.SchemaVersionsResponse:
        """Every stored schema version, oldest first (an addition to SpiceDB's API)."""
        history, current = await services.schemas.history()
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
