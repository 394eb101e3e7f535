"""Decision records name their decision point: a nullable ``decision_point`` column on ``decision_log``.

The instance that made the decision (``REBAC_INSTANCE_NAME``, default ``host:pid``); a gateway's
records name the gateway first. Records written before this revision have none. Adding a nullable
column without a default is a catalog change only, also on a partitioned table with many days.

Revision ID: c5d17a0e4b93
Revises: b4c1a7e9d3f2
Create Date: 2026-12-02 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5d17a0e4b93"
down_revision: str | Sequence[str] | None = "b4c1a7e9d3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decision_log", sa.Column("decision_point", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("decision_log", "decision_point")
