"""Settings: frozen dataclasses built once from the environment by a composition root.

Nothing here is a global: :meth:`Settings.from_env` returns a new value each call, and the API
app factory and the CLI pass it down explicitly.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rebac import limits
from rebac.errors import InvalidInputError
from rebac.refs import SubjectRef, parse_subject

__all__ = [
    "AccessRequestSettings",
    "ApiSettings",
    "DatabaseSettings",
    "DecisionLogSettings",
    "EngineSettings",
    "Settings",
    "default_home",
    "preshared_subject",
]


def metrics_mode(text: str) -> str:
    """``REBAC_METRICS``: ``key``, ``public`` or ``off``.

    Raises:
        InvalidInputError: anything else.
    """
    mode = text.strip().lower()
    if mode not in {"key", "public", "off"}:
        raise InvalidInputError(f"REBAC_METRICS must be key, public or off (got {text!r})")
    return mode


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """The whole number ``env[name]`` (``default`` when unset or blank), at least 1.

    Raises:
        InvalidInputError: not a whole number of at least 1.
    """
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputError(f"{name} must be a whole number of at least 1 (got {text!r})")
    return value


def _spool_dir(text: str, home: Path) -> Path | None:
    """``REBAC_DECISION_SPOOL``: a directory, ``off``, or (unset) ``home/decision-spool``."""
    text = text.strip()
    if text.lower() in {"0", "off", "false", "no"}:
        return None
    return Path(text).expanduser() if text else home / "decision-spool"


def default_home(env: Mapping[str, str]) -> Path:
    """``REBAC_HOME``, else ``~/.local/share/rebac``."""
    home = env.get("REBAC_HOME")
    if home:
        return Path(home).expanduser()
    return Path("~/.local/share/rebac").expanduser()


def preshared_subject(text: str | None) -> SubjectRef | None:
    """The subject the preshared key acts for (``REBAC_PRESHARED_SUBJECT``), ``None`` when unset.

    Raises:
        InvalidInputError: not a plain object reference (``user:alice``; no ``#relation``, no ``*``).
    """
    if text is None or not text.strip():
        return None
    subject = parse_subject(text.strip())
    if subject.relation is not None or subject.is_wildcard:
        raise InvalidInputError(
            f"REBAC_PRESHARED_SUBJECT must name one object such as user:alice, not {subject}",
            details={"setting": "REBAC_PRESHARED_SUBJECT"},
        )
    return subject


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Where the store lives.

    Attributes:
        url: SQLAlchemy URL (``postgresql+psycopg://...``); ``None`` means the embedded server.
        home: Data directory for the embedded server and local state.
        max_updates_per_write: Largest write call accepted.
        gc_window_seconds: How long deleted/expired rows stay readable at old revisions.
        pool_size: Connections kept open (``REBAC_POOL_SIZE``). One process may open up to
            ``3 * pool_size + 8`` connections (see :mod:`rebac.store.postgres.capacity`), and
            ``rebac serve`` checks that its workers fit the server's ``max_connections``.
        index: Keep an in-memory relationship index in the server process, fed from the change log,
            so checks need no database round trip (``REBAC_INDEX=off`` to read the database only).
        read_replica_urls: Streaming replicas of ``url`` for reads at a revision
            (``REBAC_READ_REPLICA_URLS``, comma-separated); each read goes to one that has replayed
            the revision asked for, else to the primary (see :mod:`rebac.store.postgres._replicas`).
        read_replica_wait_seconds: How long a read at a revision no replica has replayed yet waits
            for one (``REBAC_READ_REPLICA_WAIT_SECONDS``) before it reads the primary; ``0``: at once.
    """

    url: str | None = None
    home: Path = field(default_factory=lambda: Path("~/.local/share/rebac").expanduser())
    max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE
    gc_window_seconds: float = limits.GC_WINDOW_SECONDS
    pool_size: int = 10
    index: bool = True
    read_replica_urls: tuple[str, ...] = ()
    read_replica_wait_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Evaluation limits and caching."""

    max_depth: int = limits.MAX_DEPTH
    max_delegation_hops: int = limits.MAX_DELEGATION_HOPS
    request_deadline_seconds: float = limits.REQUEST_DEADLINE_SECONDS
    quantization_seconds: float = limits.DEFAULT_STALENESS_SECONDS
    """Bucket of default reads (``REBAC_QUANTIZATION_SECONDS``): their staleness bound."""
    cache_entries: int = limits.CHECK_CACHE_ENTRIES
    cache_enabled: bool = True
    non_human_types: tuple[str, ...] = ()
    """Types listed in the identity inventory besides those declaring ``acts_for``."""
    review_unused_days: int = 30
    """An identity with no decision for this many days is flagged unused."""


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """HTTP service settings. ``preshared_key`` is never logged.

    Attributes:
        preshared_subject: The subject the preshared key acts for (``REBAC_PRESHARED_SUBJECT``,
            a plain object such as ``user:alice``); ``None``: it acts for no subject.
        access_log: Write one JSON access line per request to standard error (logger
            ``rebac.access``); ``REBAC_ACCESS_LOG=off`` turns it off.
        console_secret: Signs the console's session cookies (``REBAC_CONSOLE_SECRET``; the same
            in every worker and replica). Unset: derived from the preshared key, if any.
        metrics: Who may read ``GET /metrics`` (``REBAC_METRICS``): ``key`` (an API key with the
            ``metrics`` or ``admin`` scope), ``public`` (anyone who can reach the port) or ``off``.
        otel: OpenTelemetry spans of decisions (``REBAC_OTEL``): ``off``, ``otlp`` or ``console``
            (see :mod:`rebac.services.tracing`).
        workers: Worker processes of ``rebac serve`` (``REBAC_WORKERS``); each has its own app,
            pools and index. The command sets it for its workers, so a worker knows it is one of
            several.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    preshared_key: str | None = field(default=None, repr=False)
    preshared_subject: SubjectRef | None = None
    max_request_bytes: int = limits.MAX_REQUEST_BYTES
    max_bulk_items: int = limits.MAX_BULK_CHECK_ITEMS
    max_page_size: int = limits.MAX_LOOKUP_PAGE_SIZE
    access_log: bool = True
    console_secret: str | None = field(default=None, repr=False)
    metrics: str = "key"
    otel: str = "off"
    workers: int = 1


@dataclass(frozen=True, slots=True)
class DecisionLogSettings:
    """The decision log (see :mod:`rebac.services.recorder`).

    Attributes:
        enabled: Record decisions at all.
        sample_rate: Fraction of *allowed* decisions recorded (``0.0`` to ``1.0``).
        always_record_denials: Record every denied, conditional and failed decision whatever
            ``sample_rate`` says (the ones an investigation needs).
        queue_capacity: Records waiting to be written, at most.
        batch_size: Records per insert.
        flush_seconds: Longest a record waits before its batch is written.
        overload_wait_seconds: How long a check waits for room in a full queue before its record
            is dropped and counted (``dropped`` in ``/v1/decisions/stats``).
        retention_days: Days kept; older daily partitions are dropped.
        max_context_bytes: Largest caveat context kept on a record.
        instance_name: The decision point named on every record (``REBAC_INSTANCE_NAME``);
            ``None``: ``host:pid`` of the process recording (each worker its own). ``rebac serve
            --workers N`` (N > 1) gives each worker ``NAME:pid``, so no two share a name.
        spool_dir: The local spool the records go through, drained by a shipper process
            (``REBAC_DECISION_SPOOL``; default for ``rebac serve``: ``$REBAC_HOME/decision-spool``,
            ``off`` for none); ``None``: a writer thread in the serving process writes them (see
            :mod:`rebac.services.spool_recorder`).
        spool_flush_seconds: How long spool lines wait in memory before one write puts them in
            the spool (the most a crash of the server can lose, with at most 256 records).
        spool_capacity: Records accepted and not yet shipped, at most, before checks wait
            ``overload_wait_seconds`` and then drop (and count) their records.
    """

    enabled: bool = True
    sample_rate: float = 1.0
    always_record_denials: bool = True
    queue_capacity: int = limits.DECISION_QUEUE_CAPACITY
    batch_size: int = limits.DECISION_BATCH_SIZE
    flush_seconds: float = limits.DECISION_FLUSH_SECONDS
    overload_wait_seconds: float = limits.DECISION_OVERLOAD_WAIT_SECONDS
    retention_days: int = limits.DECISION_RETENTION_DAYS
    max_context_bytes: int = limits.MAX_DECISION_CONTEXT_BYTES
    instance_name: str | None = None
    spool_dir: Path | None = None
    spool_flush_seconds: float = 0.005
    spool_capacity: int = 2_000_000

    def decision_point(self) -> str:
        """The name this process's decisions carry: ``instance_name``, else ``host:pid``."""
        return self.instance_name or f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class AccessRequestSettings:
    """Access requests and approvals (AuthZEN ARAP; see :mod:`rebac.services.requests`).

    Attributes:
        approve_permission: The permission an approver must hold on the resource
            (``REBAC_APPROVE_PERMISSION``); a type without it has no approvable requests.
        default_grant_seconds: How long an approved grant lasts when the request names no end.
        max_grant_seconds: The longest grant a request may ask for (``REBAC_MAX_GRANT_SECONDS``).
        pending_seconds: How long a request nobody acts on stays pending, then expires.
        retry_after_seconds: The ``Retry-After`` of a pending request's status.
        webhook_urls: Where created and decided requests are posted (``REBAC_ACCESS_WEBHOOKS``,
            comma-separated); signed with ``webhook_secret`` (``REBAC_ACCESS_WEBHOOK_SECRET``).
    """

    approve_permission: str = "approve_access"
    default_grant_seconds: int = 3600
    max_grant_seconds: int = 86_400
    pending_seconds: int = 86_400
    retry_after_seconds: int = 5
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    decisions: DecisionLogSettings = field(default_factory=DecisionLogSettings)
    requests: AccessRequestSettings = field(default_factory=AccessRequestSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``REBAC_*`` variables (``os.environ`` when ``env`` is None).

        Raises:
            InvalidInputError: ``REBAC_PRESHARED_SUBJECT`` is not a plain object reference, or
                ``REBAC_WORKERS`` / ``REBAC_POOL_SIZE`` is not a whole number of at least 1.
        """
        source = os.environ if env is None else env
        database = DatabaseSettings(
            url=source.get("REBAC_DATABASE_URL") or None,
            home=default_home(source),
            max_updates_per_write=int(
                source.get("REBAC_MAX_UPDATES_PER_WRITE", limits.MAX_UPDATES_PER_WRITE)
            ),
            gc_window_seconds=float(source.get("REBAC_GC_WINDOW_SECONDS", limits.GC_WINDOW_SECONDS)),
            index=source.get("REBAC_INDEX", "on").lower() not in {"0", "off", "false", "no"},
            read_replica_urls=tuple(
                url.strip() for url in source.get("REBAC_READ_REPLICA_URLS", "").split(",") if url.strip()
            ),
            read_replica_wait_seconds=float(source.get("REBAC_READ_REPLICA_WAIT_SECONDS", "0")),
            pool_size=positive_int(source, "REBAC_POOL_SIZE", 10),
        )
        engine = EngineSettings(
            max_depth=int(source.get("REBAC_MAX_DEPTH", limits.MAX_DEPTH)),
            max_delegation_hops=int(source.get("REBAC_MAX_DELEGATION_HOPS", limits.MAX_DELEGATION_HOPS)),
            quantization_seconds=float(
                source.get("REBAC_QUANTIZATION_SECONDS", limits.DEFAULT_STALENESS_SECONDS)
            ),
            cache_enabled=source.get("REBAC_CACHE", "on").lower() not in {"0", "off", "false", "no"},
            non_human_types=tuple(
                name.strip() for name in source.get("REBAC_NON_HUMAN_TYPES", "").split(",") if name.strip()
            ),
            review_unused_days=int(source.get("REBAC_REVIEW_UNUSED_DAYS", "30")),
        )
        api = ApiSettings(
            host=source.get("REBAC_HOST", "127.0.0.1"),
            port=int(source.get("REBAC_PORT", "8080")),
            preshared_key=source.get("REBAC_PRESHARED_KEY") or None,
            preshared_subject=preshared_subject(source.get("REBAC_PRESHARED_SUBJECT")),
            max_request_bytes=int(source.get("REBAC_MAX_REQUEST_BYTES", limits.MAX_REQUEST_BYTES)),
            max_bulk_items=int(source.get("REBAC_MAX_BULK_ITEMS", limits.MAX_BULK_CHECK_ITEMS)),
            max_page_size=int(source.get("REBAC_MAX_PAGE_SIZE", limits.MAX_LOOKUP_PAGE_SIZE)),
            access_log=source.get("REBAC_ACCESS_LOG", "on").lower() not in {"0", "off", "false", "no"},
            console_secret=source.get("REBAC_CONSOLE_SECRET") or None,
            metrics=metrics_mode(source.get("REBAC_METRICS", "key")),
            otel=source.get("REBAC_OTEL", "off").strip().lower() or "off",
            workers=positive_int(source, "REBAC_WORKERS", 1),
        )
        decisions = DecisionLogSettings(
            enabled=source.get("REBAC_DECISION_LOG", "on").lower() not in {"0", "off", "false", "no"},
            sample_rate=float(source.get("REBAC_DECISION_SAMPLE_RATE", "1.0")),
            retention_days=int(source.get("REBAC_DECISION_RETENTION_DAYS", limits.DECISION_RETENTION_DAYS)),
            batch_size=int(source.get("REBAC_DECISION_BATCH_SIZE", limits.DECISION_BATCH_SIZE)),
            flush_seconds=float(source.get("REBAC_DECISION_FLUSH_SECONDS", limits.DECISION_FLUSH_SECONDS)),
            instance_name=source.get("REBAC_INSTANCE_NAME", "").strip() or None,
            spool_dir=_spool_dir(source.get("REBAC_DECISION_SPOOL", ""), database.home),
        )
        requests = AccessRequestSettings(
            approve_permission=source.get("REBAC_APPROVE_PERMISSION", "approve_access"),
            max_grant_seconds=int(source.get("REBAC_MAX_GRANT_SECONDS", "86400")),
            webhook_urls=tuple(
                url.strip() for url in source.get("REBAC_ACCESS_WEBHOOKS", "").split(",") if url.strip()
            ),
            webhook_secret=source.get("REBAC_ACCESS_WEBHOOK_SECRET") or None,
        )
        return cls(database=database, engine=engine, api=api, decisions=decisions, requests=requests)
