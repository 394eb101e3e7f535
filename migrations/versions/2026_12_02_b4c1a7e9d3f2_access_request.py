"""Access requests (AuthZEN ARAP): the access_request table.

A request is pending until a human approves or denies it (or it is cancelled, or expires); an
approval writes its time-bound grant in the same transaction and records the approver, when, and
the grant's revision.

Revision ID: b4c1a7e9d3f2
Revises: e2b0287fbe7e
Create Date: 2026-12-02 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b4c1a7e9d3f2"
down_revision: str | Sequence[str] | None = "e2b0287fbe7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_request",
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column(
            "chain",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), server_default="", nullable=False),
        sa.Column("requested_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester", sa.Text(), nullable=True),
        sa.Column("evaluation_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("grant_revision", sa.BigInteger(), nullable=True),
        sa.Column("grant_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')",
            name=op.f("ck_access_request_status_kind"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_access_request")),
        comment="AuthZEN ARAP access requests; an approval commits with its grant. Lookup: request_id.",
    )
    # request list shape: status = ? (optional), created_at < ?, newest first
    op.create_index(
        "ix_access_request_status_created_at", "access_request", ["status", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_access_request_status_created_at", table_name="access_request")
    op.drop_table("access_request")
