"""SQLAlchemy tables of the Postgres store (Core tables; the hot paths use Core, never the ORM).

Tables:

* ``relation_tuple`` — every relationship version. ``created_rev``/``deleted_rev`` make reads
  answerable at any retained revision; a live row has ``deleted_rev = LIVE`` (max bigint). Key
  columns use the ``C`` collation so the database orders keys exactly as Python orders
  ``Relationship.key()``. The change log is *derived* from these two columns (a row's creation is a
  TOUCH at ``created_rev``, its deletion a DELETE at ``deleted_rev``), so writes pay nothing extra.
* ``revision`` — one row per committed write transaction, with its commit time (quantization, GC).
* ``schema_version`` — immutable schema texts; ``store_meta.current_schema`` points at the current one.
* ``store_meta`` — the single row naming this store (``store_id``) and its GC horizon.
* ``decision_log`` — recorded decisions, RANGE-partitioned by ``decided_at`` into one partition per
  UTC day (``decision_log_pYYYYMMDD``, created on demand by the store, see
  :mod:`rebac.store.postgres._decisions`), so retention drops whole partitions.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = [
    "LIVE_REVISION",
    "access_request",
    "api_key",
    "identity_review",
    "metadata",
    "relation_tuple",
    "revision",
    "schema_version",
    "store_meta",
]

LIVE_REVISION: Final = 9_223_372_036_854_775_807
DECISION_PARTITION_PREFIX: Final = "decision_log_p"
"""Daily partitions of ``decision_log`` are named this plus ``YYYYMMDD`` (not in the metadata)."""

metadata: Final = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _key(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(collation="C"), nullable=False)


relation_tuple: Final = sa.Table(
    "relation_tuple",
    metadata,
    _key("resource_type"),
    _key("resource_id"),
    _key("relation"),
    _key("subject_type"),
    _key("subject_id"),
    sa.Column("subject_relation", sa.Text(collation="C"), nullable=False, server_default=""),
    sa.Column("caveat_name", sa.Text(), nullable=True),
    sa.Column("caveat_context", postgresql.JSONB(), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_rev", sa.BigInteger(), nullable=False),
    sa.Column("deleted_rev", sa.BigInteger(), nullable=False, server_default=str(LIVE_REVISION)),
    # Forward shape (check / expand / read by resource): resource_type = ?, resource_id = ANY(?),
    # relation = ?, then subject columns in key order; created_rev makes every version unique.
    sa.PrimaryKeyConstraint(
        "resource_type",
        "resource_id",
        "relation",
        "subject_type",
        "subject_id",
        "subject_relation",
        "created_rev",
    ),
    comment="Relationship versions; live rows have deleted_rev = max bigint.",
)

sa.Index(
    "uq_relation_tuple_live",
    relation_tuple.c.resource_type,
    relation_tuple.c.resource_id,
    relation_tuple.c.relation,
    relation_tuple.c.subject_type,
    relation_tuple.c.subject_id,
    relation_tuple.c.subject_relation,
    unique=True,
    postgresql_where=relation_tuple.c.deleted_rev == LIVE_REVISION,
    info={
        "query_shape": "Write shape: at most one live version per key; CREATE/TOUCH/DELETE find the live row."
    },
)
sa.Index(
    "ix_relation_tuple_reverse",
    relation_tuple.c.subject_type,
    relation_tuple.c.subject_id,
    relation_tuple.c.subject_relation,
    relation_tuple.c.resource_type,
    relation_tuple.c.relation,
    info={
        "query_shape": "Reverse shape (lookup resources, blast radius): subject_type = ?, "
        "subject_id = ANY(?), subject_relation, resource_type = ?, relation = ?."
    },
)
sa.Index(
    "ix_relation_tuple_created_rev",
    relation_tuple.c.created_rev,
    postgresql_using="brin",
    info={
        "query_shape": "Changelog shape (watch): created_rev > ?; "
        "BRIN because rows are appended in revision order."
    },
)
sa.Index(
    "ix_relation_tuple_deleted_rev",
    relation_tuple.c.deleted_rev,
    postgresql_where=relation_tuple.c.deleted_rev < LIVE_REVISION,
    info={
        "query_shape": "Changelog and GC shape: deleted_rev > ? / deleted_rev <= horizon, "
        "over deleted rows only."
    },
)
sa.Index(
    "ix_relation_tuple_expires_at",
    relation_tuple.c.expires_at,
    postgresql_where=relation_tuple.c.expires_at.is_not(None),
    info={"query_shape": "GC shape: expires_at <= cutoff, over expiring rows only."},
)

revision: Final = sa.Table(
    "revision",
    metadata,
    sa.Column("value", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
    comment="One row per committed write; head = max(value) (PK shape). Value 0 is the empty store.",
)
sa.Index(
    "ix_revision_committed_at",
    revision.c.committed_at,
    info={"query_shape": "Quantization and GC shape: newest revision with committed_at <= ?."},
)

schema_version: Final = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("author", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    comment="Immutable schema versions; never updated.",
)

store_meta: Final = sa.Table(
    "store_meta",
    metadata,
    sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("store_id", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")),
    sa.Column("gc_revision", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column(
        "current_schema",
        sa.Integer(),
        sa.ForeignKey(schema_version.c.version),
        nullable=True,
    ),
    sa.CheckConstraint("id = 1", name="single_row"),
    comment="The single row (id = 1) naming this store and its GC horizon; writers lock it.",
)

identity_review: Final = sa.Table(
    "identity_review",
    metadata,
    sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
    _key("subject_type"),
    _key("subject_id"),
    sa.Column("reviewer", sa.Text(), nullable=False),
    sa.Column("revision", sa.BigInteger(), nullable=False),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text(), nullable=False, server_default=""),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("grants", postgresql.JSONB(), nullable=False),
    comment="Append-only approvals of an identity's grants (snapshot in grants) at a revision.",
)
sa.Index(
    "ix_identity_review_subject_type_subject_id_id",
    identity_review.c.subject_type,
    identity_review.c.subject_id,
    identity_review.c.id,
    info={
        "query_shape": "Latest-review shape: subject_type = ?, subject_id = ANY(?), newest id per "
        "subject (inventory); and one subject's reviews newest first (GET /v1/reviews?subject=)."
    },
)

decision_log: Final = sa.Table(
    "decision_log",
    metadata,
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decision_id", sa.Uuid(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("caller", sa.Text(), nullable=True),
    sa.Column("subject", sa.Text(collation="C"), nullable=False),
    sa.Column("permission", sa.Text(collation="C"), nullable=False),
    sa.Column("resource", sa.Text(collation="C"), nullable=False),
    sa.Column("result", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("chain", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("revision", sa.BigInteger(), nullable=True),
    sa.Column("schema_version", sa.Integer(), nullable=True),
    sa.Column("schema_hash", sa.String(64), nullable=True),
    sa.Column("context", postgresql.JSONB(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("decision_point", sa.Text(), nullable=True),
    # Time shape (list newest first, cursor pagination, retention): (decided_at, decision_id).
    # A partitioned table's key must contain the partition key, hence decided_at first.
    sa.PrimaryKeyConstraint("decided_at", "decision_id"),
    sa.CheckConstraint("result IN ('allowed', 'denied', 'conditional', 'error')", name="result_kind"),
    comment="Recorded decisions; RANGE-partitioned by decided_at, one partition per UTC day.",
    postgresql_partition_by="RANGE (decided_at)",
)
sa.Index(
    "ix_decision_log_subject",
    decision_log.c.subject,
    decision_log.c.decided_at,
    info={"query_shape": "Decision subject shape: subject = ?, decided_at range, newest first."},
)
sa.Index(
    "ix_decision_log_resource",
    decision_log.c.resource,
    decision_log.c.decided_at,
    info={"query_shape": "Decision resource shape: resource = ?, decided_at range, newest first."},
)
sa.Index(
    "ix_decision_log_result",
    decision_log.c.result,
    decision_log.c.decided_at,
    info={"query_shape": "Decision result shape (denials, errors): result = ?, decided_at range."},
)

api_key: Final = sa.Table(
    "api_key",
    metadata,
    sa.Column("key_id", sa.Text(), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column("name", sa.Text(), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("subject", sa.Text(), nullable=True),  # canonical text of the subject the key acts for
    comment="API keys: only sha256(secret) is stored. Lookup shape: key_id = ? (PK).",
)

access_request: Final = sa.Table(
    "access_request",
    metadata,
    sa.Column("request_id", sa.Text(), primary_key=True),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("chain", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("resource", sa.Text(), nullable=False),
    sa.Column("action", sa.Text(), nullable=False),
    sa.Column("relation", sa.Text(), nullable=False),
    sa.Column("justification", sa.Text(), nullable=False, server_default=""),
    sa.Column("requested_until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("requester", sa.Text(), nullable=True),
    sa.Column("evaluation_id", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.Text(), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False, server_default=""),
    sa.Column("grant_revision", sa.BigInteger(), nullable=True),
    sa.Column("grant_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')", name="status_kind"
    ),
    comment="AuthZEN ARAP access requests; an approval commits with its grant. Lookup: request_id.",
)
sa.Index(
    "ix_access_request_status_created_at",
    access_request.c.status,
    access_request.c.created_at,
    info={"query_shape": "Request list shape: status = ? (optional), created_at < ?, newest first."},
)
