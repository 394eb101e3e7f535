"""Blast radius and its reverse view, as one service (DESIGN §7).

What a subject can reach (raw and effective, with a path to each entry), or who can reach a
resource, bounded by a node budget of at most :data:`MAX_BUDGET`; the walks themselves live in
:mod:`rebac.services.blast_radius`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rebac import limits
from rebac.errors import LimitExceededError
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.blast_radius import BlastRadius, WhoCanReach, blast_radius, who_can_reach
from rebac.services.engines import Current
from rebac.store.revision import Revision

__all__ = ["MAX_BUDGET", "Reach"]

MAX_BUDGET: Final = limits.EXPAND_NODE_BUDGET
"""The largest node budget a blast radius may ask for (and the default)."""


def _budget(value: int | None) -> int:
    if value is None:
        return MAX_BUDGET
    if value > MAX_BUDGET:
        raise LimitExceededError(
            f"the budget may be at most {MAX_BUDGET}",
            limit="EXPAND_NODE_BUDGET",
            maximum=MAX_BUDGET,
            actual=value,
        )
    return value


class Reach:
    """Blast radius (forward) and who-can-reach (reverse)."""

    __slots__ = ()

    async def blast_radius(
        self,
        current: Current,
        subject: SubjectRef,
        *,
        revision: Revision,
        budget: int | None = None,
        resource_types: Sequence[str] | None = None,
        permissions: Sequence[str] | None = None,
        raw_only: bool = False,
    ) -> BlastRadius:
        """Everything ``subject`` can reach at ``revision``.

        Raises:
            LimitExceededError: a budget above :data:`MAX_BUDGET`.
        """
        return await blast_radius(
            current.engine,
            subject,
            revision=revision,
            budget=_budget(budget),
            resource_types=resource_types,
            permissions=permissions,
            raw_only=raw_only,
        )

    async def who_can_reach(
        self,
        current: Current,
        resource: ObjectRef,
        permission: str | None = None,
        *,
        revision: Revision,
        budget: int | None = None,
        raw_only: bool = False,
    ) -> WhoCanReach:
        """Everyone (humans and agents) who can reach ``resource`` at ``revision``.

        Raises:
            LimitExceededError: a budget above :data:`MAX_BUDGET`.
        """
        return await who_can_reach(
            current.engine, resource, permission, revision=revision, budget=_budget(budget), raw_only=raw_only
        )
