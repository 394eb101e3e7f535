"""API keys carry the subject they act for: a nullable ``subject`` column (canonical ``user:alice``).

A key with a subject acts for that identity where the API needs one (a review is recorded under the
key's subject); a key without one (every key created before this revision) acts for no subject.

Revision ID: e2b0287fbe7e
Revises: 7a3e5c1d9b20
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2b0287fbe7e"
down_revision: str | Sequence[str] | None = "7a3e5c1d9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("subject", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("api_key", "subject")
