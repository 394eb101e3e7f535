"""Named defaults for every limit rebac enforces. Nothing here is mutable state."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHECK_CACHE_ENTRIES",
    "CHUNK_SIZE",
    "DECISION_BATCH_SIZE",
    "DECISION_FLUSH_SECONDS",
    "DECISION_OVERLOAD_WAIT_SECONDS",
    "DECISION_QUEUE_CAPACITY",
    "DECISION_RETENTION_DAYS",
    "DEFAULT_LOOKUP_PAGE_SIZE",
    "DEFAULT_STALENESS_SECONDS",
    "EXPAND_NODE_BUDGET",
    "GC_WINDOW_SECONDS",
    "LEAST_PRIVILEGE_MAX_GRANTS",
    "LEAST_PRIVILEGE_MAX_USES",
    "MAX_BULK_CHECK_ITEMS",
    "MAX_CAVEAT_CONTEXT_BYTES",
    "MAX_DECISION_CONTEXT_BYTES",
    "MAX_DECISION_PAGE_SIZE",
    "MAX_DELEGATION_HOPS",
    "MAX_DEPTH",
    "MAX_FANOUT",
    "MAX_LOOKUP_PAGE_SIZE",
    "MAX_OBJECT_ID_LENGTH",
    "MAX_PRECONDITIONS",
    "MAX_REQUEST_BYTES",
    "MAX_UPDATES_PER_WRITE",
    "QUANTIZATION_SECONDS",
    "REQUEST_DEADLINE_SECONDS",
    "TRACE_NODE_BUDGET",
    "WHAT_IF_MAX_DECISIONS",
]

MAX_DEPTH: Final = 50
"""Dispatch depth budget per check (SpiceDB's ``dispatch-max-depth``)."""

MAX_DELEGATION_HOPS: Final = 8
"""Longest principal chain followed for an ``acts_for`` subject."""

MAX_FANOUT: Final = 10_000
"""Most subjects one relation of one object may fan out to in a single read chunk loop."""

CHUNK_SIZE: Final = 100
"""How many object ids one batched store read asks for."""

EXPAND_NODE_BUDGET: Final = 100_000
"""Most nodes an expand or blast-radius computation may visit."""

TRACE_NODE_BUDGET: Final = 256
"""Most nodes a traced check records; past it children are dropped and their parent is marked
truncated (the check itself is unaffected)."""

MAX_UPDATES_PER_WRITE: Final = 1_000
"""Most relationship updates one write call may carry (SpiceDB's default)."""

MAX_PRECONDITIONS: Final = 1_000
"""Most preconditions one write call may carry."""

MAX_BULK_CHECK_ITEMS: Final = 1_000
"""Most items in one bulk check or AuthZEN evaluations call."""

DEFAULT_LOOKUP_PAGE_SIZE: Final = 1_000
"""Page size of lookups when the caller names none."""

MAX_LOOKUP_PAGE_SIZE: Final = 10_000
"""Largest page size a caller may ask for."""

MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024
"""Largest accepted HTTP request body."""

MAX_CAVEAT_CONTEXT_BYTES: Final = 64 * 1024
"""Largest caveat context (JSON) on a relationship or request."""

MAX_OBJECT_ID_LENGTH: Final = 1024
"""Longest object id (SpiceDB's rule)."""

REQUEST_DEADLINE_SECONDS: Final = 5.0
"""Per-request evaluation deadline."""

QUANTIZATION_SECONDS: Final = 5.0
"""SpiceDB's window to which ``minimize_latency`` rounds the revision so caches hit
(``REBAC_QUANTIZATION_SECONDS=5``)."""

DEFAULT_STALENESS_SECONDS: Final = 0.1
"""Bucket of a served store's default (``minimize_latency``) reads: a read sees every write
acknowledged this long before it (AuthZEN has no consistency token; issue 14)."""

GC_WINDOW_SECONDS: Final = 24 * 3600
"""How long deleted and expired relationships stay readable at old revisions."""

CHECK_CACHE_ENTRIES: Final = 100_000
"""Entries of the per-process check result cache."""

MAX_DECISION_CONTEXT_BYTES: Final = 4 * 1024
"""Largest caveat context (canonical JSON) kept on a decision record; larger ones are replaced
by a ``{"truncated": true, "bytes": N}`` marker."""

MAX_DECISION_PAGE_SIZE: Final = 1_000
"""Largest page of ``/v1/decisions`` and ``rebac decisions``."""

DECISION_QUEUE_CAPACITY: Final = 50_000
"""Decision records waiting to be written, at most (the recorder's bounded queue)."""

DECISION_BATCH_SIZE: Final = 500
"""Most decision records written in one insert."""

DECISION_FLUSH_SECONDS: Final = 0.2
"""Longest a recorded decision waits in the queue before its batch is written."""

DECISION_OVERLOAD_WAIT_SECONDS: Final = 0.05
"""How long a check waits for room in a full decision queue before its record is counted dropped."""

DECISION_RETENTION_DAYS: Final = 30
"""Days of decision records kept; older daily partitions are dropped."""

WHAT_IF_MAX_DECISIONS: Final = 100_000
"""Most logged decisions one what-if replay reads (more in the window: the report is truncated)."""

LEAST_PRIVILEGE_MAX_USES: Final = 100_000
"""Most allowed decisions one least-privilege report reads (more: the report is truncated)."""

LEAST_PRIVILEGE_MAX_GRANTS: Final = 500
"""Most direct grants one least-privilege report tries to remove (more: the report is truncated)."""
