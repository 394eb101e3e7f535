"""Decision log: the ``decision_log`` table, RANGE-partitioned by ``decided_at``.

Only the partitioned parent and its (partitioned) indexes are created here; the store creates one
partition per UTC day on demand (``decision_log_pYYYYMMDD``) and retention drops whole partitions.
``migrations/env.py`` keeps those partitions out of autogenerate/``alembic check``.

Revision ID: f8fab02e3983
Revises: 7e1a5c0d9b42
Create Date: 2026-11-26 09:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f8fab02e3983"
down_revision: str | Sequence[str] | None = "7e1a5c0d9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(collation="C"), nullable=False),
        sa.Column("permission", sa.Text(collation="C"), nullable=False),
        sa.Column("resource", sa.Text(collation="C"), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "chain",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column("schema_hash", sa.String(length=64), nullable=True),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "result IN ('allowed', 'denied', 'conditional', 'error')",
            name=op.f("ck_decision_log_result_kind"),
        ),
        sa.PrimaryKeyConstraint("decided_at", "decision_id", name=op.f("pk_decision_log")),
        comment="Recorded decisions; RANGE-partitioned by decided_at, one partition per UTC day.",
        postgresql_partition_by="RANGE (decided_at)",
    )
    # decisions by subject / resource / result, each within a time range, newest first
    op.create_index("ix_decision_log_subject", "decision_log", ["subject", "decided_at"], unique=False)
    op.create_index("ix_decision_log_resource", "decision_log", ["resource", "decided_at"], unique=False)
    op.create_index("ix_decision_log_result", "decision_log", ["result", "decided_at"], unique=False)


def downgrade() -> None:
    # Dropping the partitioned parent drops every daily partition with it.
    op.drop_index("ix_decision_log_result", table_name="decision_log")
    op.drop_index("ix_decision_log_resource", table_name="decision_log")
    op.drop_index("ix_decision_log_subject", table_name="decision_log")
    op.drop_table("decision_log")
