"""Initial store tables: relation_tuple, revision, schema_version, store_meta.

Hand-reviewed autogenerate output. Seeds revision 0 (the empty store) and the single store_meta
row, whose store_id is a fresh UUID per database.

Revision ID: 56bc991b491a
Revises: (none)
Create Date: 2026-11-26 07:37:03.898772
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "56bc991b491a"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relation_tuple",
        sa.Column("resource_type", sa.Text(collation="C"), nullable=False),
        sa.Column("resource_id", sa.Text(collation="C"), nullable=False),
        sa.Column("relation", sa.Text(collation="C"), nullable=False),
        sa.Column("subject_type", sa.Text(collation="C"), nullable=False),
        sa.Column("subject_id", sa.Text(collation="C"), nullable=False),
        sa.Column("subject_relation", sa.Text(collation="C"), server_default="", nullable=False),
        sa.Column("caveat_name", sa.Text(), nullable=True),
        sa.Column("caveat_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_rev", sa.BigInteger(), nullable=False),
        sa.Column("deleted_rev", sa.BigInteger(), server_default="9223372036854775807", nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type",
            "resource_id",
            "relation",
            "subject_type",
            "subject_id",
            "subject_relation",
            "created_rev",
            name=op.f("pk_relation_tuple"),
        ),
        comment="Relationship versions; live rows have deleted_rev = max bigint.",
    )
    # changelog shape: created_rev > ? (rows are appended in revision order, so BRIN)
    op.create_index(
        "ix_relation_tuple_created_rev",
        "relation_tuple",
        ["created_rev"],
        unique=False,
        postgresql_using="brin",
    )
    # changelog and GC shape over deleted rows only
    op.create_index(
        "ix_relation_tuple_deleted_rev",
        "relation_tuple",
        ["deleted_rev"],
        unique=False,
        postgresql_where=sa.text("deleted_rev < 9223372036854775807"),
    )
    # GC shape over expiring rows only
    op.create_index(
        "ix_relation_tuple_expires_at",
        "relation_tuple",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    # reverse shape: lookups and blast radius by subject
    op.create_index(
        "ix_relation_tuple_reverse",
        "relation_tuple",
        ["subject_type", "subject_id", "subject_relation", "resource_type", "relation"],
        unique=False,
    )
    # write shape: one live version per key
    op.create_index(
        "uq_relation_tuple_live",
        "relation_tuple",
        ["resource_type", "resource_id", "relation", "subject_type", "subject_id", "subject_relation"],
        unique=True,
        postgresql_where=sa.text("deleted_rev = 9223372036854775807"),
    )
    op.create_table(
        "revision",
        sa.Column("value", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_revision")),
        comment="One row per committed write; head = max(value) (PK shape). Value 0 is the empty store.",
    )
    op.create_index("ix_revision_committed_at", "revision", ["committed_at"], unique=False)
    op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_schema_version")),
        comment="Immutable schema versions; never updated.",
    )
    op.create_table(
        "store_meta",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("store_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("gc_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("current_schema", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_store_meta_single_row")),
        sa.ForeignKeyConstraint(
            ["current_schema"],
            ["schema_version.version"],
            name=op.f("fk_store_meta_current_schema_schema_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_meta")),
        comment="The single row (id = 1) naming this store and its GC horizon; writers lock it.",
    )
    op.execute("INSERT INTO revision (value, committed_at) VALUES (0, now())")
    op.execute("INSERT INTO store_meta (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("store_meta")
    op.drop_table("schema_version")
    op.drop_index("ix_revision_committed_at", table_name="revision")
    op.drop_table("revision")
    op.drop_index(
        "uq_relation_tuple_live",
        table_name="relation_tuple",
        postgresql_where=sa.text("deleted_rev = 9223372036854775807"),
    )
    op.drop_index("ix_relation_tuple_reverse", table_name="relation_tuple")
    op.drop_index(
        "ix_relation_tuple_expires_at",
        table_name="relation_tuple",
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_relation_tuple_deleted_rev",
        table_name="relation_tuple",
        postgresql_where=sa.text("deleted_rev < 9223372036854775807"),
    )
    op.drop_index("ix_relation_tuple_created_rev", table_name="relation_tuple", postgresql_using="brin")
    op.drop_table("relation_tuple")
