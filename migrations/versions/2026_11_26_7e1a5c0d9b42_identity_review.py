"""Identity reviews: the append-only identity_review table.

A review records who approved a non-human identity's grants, at which revision, with the
snapshot (``grants``, canonical relationship texts) and its sha256 ``fingerprint``.

Revision ID: 7e1a5c0d9b42
Revises: 56bc991b491a
Create Date: 2026-11-26 09:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7e1a5c0d9b42"
down_revision: str | Sequence[str] | None = "56bc991b491a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_review",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("subject_type", sa.Text(collation="C"), nullable=False),
        sa.Column("subject_id", sa.Text(collation="C"), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("grants", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_review")),
        comment="Append-only approvals of an identity's grants (snapshot in grants) at a revision.",
    )
    # latest-review shape: newest id per (subject_type, subject_id)
    op.create_index(
        "ix_identity_review_subject_type_subject_id_id",
        "identity_review",
        ["subject_type", "subject_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_identity_review_subject_type_subject_id_id", table_name="identity_review")
    op.drop_table("identity_review")
