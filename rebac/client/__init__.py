"""rebac's Python SDK: a sync :class:`Client` and an async :class:`AsyncClient` on httpx.

Both have the same methods and cover every endpoint of the server: SpiceDB's v1 API (checks,
lookups, relationships, schema, watch), AuthZEN 1.0, and the admin endpoints (decision log,
identities, reviews, blast radius, keys), and access requests (AuthZEN ARAP). See ``docs/sdk.md``.

- **Fails closed.** :meth:`Client.allowed` is True only on an explicit
  ``PERMISSIONSHIP_HAS_PERMISSION``; a conditional answer, an error, a timeout or an outage is
  False, and :meth:`Client.decide` says why (:class:`Decision`).
- **Read-your-writes.** The client remembers the newest consistency token it wrote or received
  and sends it as ``atLeastAsFresh`` on reads (``X-Rebac-Consistency-Token`` on AuthZEN calls);
  ``read_your_writes=False`` turns it off, and ``consistency=`` on a call overrides it.
- **Timeouts and retries.** :data:`DEFAULT_TIMEOUT` unless told otherwise; idempotent reads are
  retried with backoff and jitter on 503 and connection errors (:data:`DEFAULT_RETRY`); writes
  only when the server certainly did not act.
- **Values.** Requests and answers are msgspec Structs; objects, subjects and relationships are
  :mod:`rebac.refs` values, and wherever one is taken its text is too (``"document:1"``).

Every error the client raises is a :class:`RebacClientError` (itself a
:class:`rebac.errors.RebacError`); malformed text raises :class:`rebac.errors.RefSyntaxError`
(a ``ValueError``) before anything is sent::

    RebacClientError
    ├── ProblemError ............................ the server answered with an RFC 9457 problem
    │   ├── BadRequest (ValueError) ............. 400: a bad reference, token or cursor, an unknown name
    │   │   └── LimitExceeded ................... 400 / 413 limit-exceeded: a named limit (extensions)
    │   ├── Unauthenticated ..................... 401: no key, or an unknown or revoked one
    │   ├── Forbidden ........................... 403: the key lacks the scope
    │   ├── NotFound (LookupError) .............. 404: no schema yet, an unknown decision or key
    │   ├── Conflict ............................ 409: conflicts with stored state
    │   │   └── PreconditionFailed .............. 409 precondition-failed
    │   ├── EvaluationFailed .................... 422: no decision could be made (a deny)
    │   ├── Unavailable ......................... 503: datastore down, concurrent write, deadline
    │   └── ServerError ......................... 500 and any other 5xx
    ├── TransportError .......................... no usable HTTP answer
    │   ├── ConnectError (ConnectionError) ...... could not connect: nothing was sent
    │   ├── ConnectionLost (ConnectionError) .... reset or closed after the request was sent
    │   └── Timeout (TimeoutError) .............. a connect, read, write or pool timeout
    └── UnexpectedResponse ...................... the answer is not what the API promises

A :class:`ProblemError` keeps the problem whole (:attr:`ProblemError.problem`: ``type``,
``title``, ``status``, ``detail``, ``extensions``); every error says how many tries it took
(``attempts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from rebac.client._admin_models import (
    ApiKey,
    BlastRadius,
    BlastRadiusSize,
    CreatedKey,
    DecisionRecord,
    DecisionStats,
    Identity,
    IdentityGrant,
    PrincipalEdge,
    ReachEntry,
    ReachGroup,
    ReachStep,
    Review,
    ReviewState,
    RevokedKey,
)
from rebac.client._agents import DEFAULT_AGENT_TTL, Grant
from rebac.client._analysis import (
    Flip,
    LeastPrivilegeReport,
    Unreplayable,
    UnusedPermission,
    UsedPermission,
    WhatIfReport,
)
from rebac.client._config import (
    DEFAULT_BULK_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
    MAX_BULK_ITEMS,
    MAX_WRITE_UPDATES,
    STREAM_GRACE_SECONDS,
    Retry,
    Timeouts,
)
from rebac.client._errors import (
    BadRequest,
    Conflict,
    ConnectError,
    ConnectionLost,
    EvaluationFailed,
    Forbidden,
    LimitExceeded,
    NotFound,
    PreconditionFailed,
    Problem,
    ProblemError,
    RebacClientError,
    ServerError,
    Timeout,
    TransportError,
    Unauthenticated,
    Unavailable,
    UnexpectedResponse,
)
from rebac.client._iterators import AsyncPageIterator, AsyncStream, PageIterator, Stream
from rebac.client._models import (
    BulkCheck,
    BulkCheckResult,
    CheckResult,
    Consistency,
    Decision,
    DelegationHop,
    DeleteResult,
    Entity,
    Evaluation,
    EvaluationItem,
    ExpandResult,
    ExpandTree,
    ImportResult,
    LookupResource,
    LookupSubject,
    Operation,
    Permissionship,
    Precondition,
    Reason,
    RelationshipFilter,
    SchemaDiff,
    SchemaInfo,
    SchemaVersion,
    SchemaWriteResult,
    Semantic,
    Update,
    WatchEvent,
    WatchUpdate,
)
from rebac.client._raw import RawAnswer, RawTransport
from rebac.client._requests import ACCESS_REQUEST_STATUSES, AccessGrant, AccessRequest, AccessRequestStatus
from rebac.client._sync import Client
from rebac.client._tokens import AUTHZEN_TOKEN_HEADER
from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef

if TYPE_CHECKING:
    from rebac.client._async import AsyncClient

__all__ = [
    "ACCESS_REQUEST_STATUSES",
    "AUTHZEN_TOKEN_HEADER",
    "DEFAULT_AGENT_TTL",
    "DEFAULT_BULK_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WRITE_TIMEOUT",
    "MAX_BULK_ITEMS",
    "MAX_WRITE_UPDATES",
    "STREAM_GRACE_SECONDS",
    "AccessGrant",
    "AccessRequest",
    "AccessRequestStatus",
    "ApiKey",
    "AsyncClient",
    "AsyncPageIterator",
    "AsyncStream",
    "BadRequest",
    "BlastRadius",
    "BlastRadiusSize",
    "BulkCheck",
    "BulkCheckResult",
    "CaveatRef",
    "CheckResult",
    "Client",
    "Conflict",
    "ConnectError",
    "ConnectionLost",
    "Consistency",
    "CreatedKey",
    "Decision",
    "DecisionRecord",
    "DecisionStats",
    "DelegationHop",
    "DeleteResult",
    "Entity",
    "Evaluation",
    "EvaluationFailed",
    "EvaluationItem",
    "ExpandResult",
    "ExpandTree",
    "Flip",
    "Forbidden",
    "Grant",
    "Identity",
    "IdentityGrant",
    "ImportResult",
    "LeastPrivilegeReport",
    "LimitExceeded",
    "LookupResource",
    "LookupSubject",
    "NotFound",
    "ObjectRef",
    "Operation",
    "PageIterator",
    "Permissionship",
    "Precondition",
    "PreconditionFailed",
    "PrincipalEdge",
    "Problem",
    "ProblemError",
    "RawAnswer",
    "RawTransport",
    "ReachEntry",
    "ReachGroup",
    "ReachStep",
    "Reason",
    "RebacClientError",
    "Relationship",
    "RelationshipFilter",
    "Retry",
    "Review",
    "ReviewState",
    "RevokedKey",
    "SchemaDiff",
    "SchemaInfo",
    "SchemaVersion",
    "SchemaWriteResult",
    "Semantic",
    "ServerError",
    "Stream",
    "SubjectRef",
    "Timeout",
    "Timeouts",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "UnexpectedResponse",
    "Unreplayable",
    "UnusedPermission",
    "Update",
    "UsedPermission",
    "WatchEvent",
    "WatchUpdate",
    "WhatIfReport",
]

# Tracebacks and docs show the public path (httpx does the same) for the clients, errors and
# iterators. msgspec Structs keep their private module: msgspec resolves their annotations in it
# when a decoder is first built. The rebac.refs values keep theirs too.
_LAZY = frozenset({"AsyncClient"})
"""Imported on first use (the async client's modules are a third of the SDK's import time)."""

for _name in __all__:
    if _name in _LAZY:
        continue
    _value = globals()[_name]
    if (
        isinstance(_value, type)
        and _value.__module__.startswith("rebac.client.")
        and not issubclass(_value, msgspec.Struct)
    ):
        _value.__module__ = __name__
del _name, _value


def __getattr__(name: str) -> Any:
    if name == "AsyncClient":
        from rebac.client._async import AsyncClient  # noqa: PLC0415 - see _LAZY

        AsyncClient.__module__ = __name__
        globals()[name] = AsyncClient
        return AsyncClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
