"""``/v1/keys`` (scope ``admin``): create, list and revoke scoped API keys over the API.

Thin: DTO -> refs -> :class:`rebac.services.keys.Keys` -> DTO. The key text is in the creation's
response only; nothing here logs it. A store without a key table answers 404 problems saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.problems import problem_responses
from rebac.refs import SubjectRef, shown_text
from rebac.services.core import Services
from rebac.services.types import ApiKey

__all__ = ["KeysController"]


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _info(key: ApiKey) -> dto.KeyInfo:
    return dto.KeyInfo(
        key_id=key.key_id,
        scopes=sorted(key.scopes),
        name=key.name,
        subject=None if key.subject is None else shown_text(key.subject),
        created_at=_time(key.created_at),
        revoked_at=None if key.revoked_at is None else _time(key.revoked_at),
    )


class KeysController(Controller):
    """Scoped API keys (scope ``admin``)."""

    path = "/v1/keys"
    guards = [require_scope("admin")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["keys"]  # noqa: RUF012

    @post("/", operation_id="CreateKey", status_code=200, responses=problem_responses(409))
    async def create(
        self, data: JSONBody[dto.KeyCreateRequest], services: NamedDependency[Services]
    ) -> dto.KeyCreated:
        """A new key with the scopes (acting for ``subject`` when given); its text is shown only here."""
        subject = None
        if data.subject is not None:
            target = convert.object_of(data.subject)
            subject = SubjectRef(target.type, target.id)
        key, stored = await services.keys.create(data.scopes, data.name, subject)
        return dto.KeyCreated(
            key=key.text,
            key_id=stored.key_id,
            scopes=sorted(stored.scopes),
            name=stored.name,
            subject=None if stored.subject is None else shown_text(stored.subject),
            created_at=_time(stored.created_at),
        )

    @get("/", operation_id="ListKeys", responses=problem_responses())
    async def list_keys(self, services: NamedDependency[Services]) -> dto.KeysResponse:
        """Every key, oldest first: ids, scopes, names, subjects and times (never secrets or hashes)."""
        return dto.KeysResponse(keys=[_info(key) for key in await services.keys.list()])

    @delete("/{keyId:str}", operation_id="RevokeKey", status_code=200, responses=problem_responses())
    async def revoke(
        self,
        key_id: Annotated[str, PathParameter(name="keyId", description="The key's id (rbk_<id>_...).")],
        services: NamedDependency[Services],
    ) -> dto.KeyRevoked:
        """Revoke an active key (servers stop accepting it within seconds); 404 when none has the id."""
        revoked_at = await services.keys.revoke_active(key_id)
        return dto.KeyRevoked(key_id=key_id, revoked_at=_time(revoked_at))
