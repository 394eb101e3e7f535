"""OpenTelemetry spans for decisions: off unless configured, and free when off.

``REBAC_OTEL`` picks the exporter: ``off`` (the default: no OpenTelemetry module is even
imported), ``otlp`` (OTLP over HTTP; the standard ``OTEL_EXPORTER_OTLP_*`` variables say where)
or ``console`` (standard output, for a look). ``OTEL_SERVICE_NAME`` names the service (default
``rebac``). The packages come with the ``otel`` extra (``pip install 'rebac[otel]'``).

Each decision (a check, each bulk-check item, each AuthZEN evaluation) is one span,
``rebac.check`` or ``rebac.evaluation``, carrying ``rebac.decision_id`` (the id the caller gets
and the decision log keeps), ``rebac.source``, ``rebac.permission``, ``rebac.resource_type``,
``rebac.result`` and ``rebac.revision``. A decision that fails sets the span's status to error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from rebac import errors
from rebac.errors import RebacError

if TYPE_CHECKING:
    from rebac.services.decisions import Decision

__all__ = ["OTEL_MODES", "SpanMaker", "Tracing", "open_tracing", "traced_decision"]

OTEL_MODES: Final = ("off", "otlp", "console")
_EVALUATION_PREFIX: Final = "authzen"
_RESULTS: Final = {
    "PERMISSIONSHIP_HAS_PERMISSION": "allowed",
    "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "conditional",
    "PERMISSIONSHIP_NO_PERMISSION": "denied",
}
"""A check's permissionship as the decision log and ``/metrics`` name its result."""


class SpanMaker(Protocol):
    """What :func:`traced_decision` needs of an OpenTelemetry ``Tracer``."""

    def start_as_current_span(
        self, name: str, *, record_exception: bool = ..., set_status_on_exception: bool = ...
    ) -> Any:
        """A context manager yielding the span."""


class Tracing:
    """A tracer and the provider to flush at shutdown.

    Args:
        tracer: Makes the spans (an OpenTelemetry ``Tracer``).
        shutdown: Flushes and stops the exporter.
    """

    def __init__(self, tracer: SpanMaker, shutdown: Callable[[], object]) -> None:
        self.tracer = tracer
        self._shutdown = shutdown

    def close(self) -> None:
        """Export what is pending and stop."""
        self._shutdown()


def open_tracing(mode: str, env: Mapping[str, str]) -> Tracing | None:
    """The tracing ``REBAC_OTEL=mode`` asks for (``None`` for ``off``; the import happens here).

    Raises:
        InvalidInputError: an unknown mode, or the ``otel`` extra is not installed.
    """
    if mode == "off":
        return None
    if mode not in OTEL_MODES:
        raise errors.InvalidInputError(f"REBAC_OTEL must be one of {', '.join(OTEL_MODES)} (got {mode!r})")
    try:
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - lazy: nothing when off
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )

        exporter: SpanExporter
        if mode == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter()
    except ImportError as exc:
        msg = f"REBAC_OTEL={mode} needs the otel extra: pip install 'rebac[otel]' ({exc.name} is missing)"
        raise errors.InvalidInputError(msg) from exc
    named = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": "rebac"}  # the SDK reads the variable
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider.get_tracer("rebac"), provider.shutdown)


async def traced_decision(
    tracer: SpanMaker,
    *,
    source: str,
    permission: str,
    resource_type: str,
    revision: int | None,
    decide: Callable[[], Awaitable[Decision]],
) -> Decision:
    """``decide()`` inside one span carrying the decision's id and result (see the module)."""
    name = "rebac.evaluation" if source.startswith(_EVALUATION_PREFIX) else "rebac.check"
    with tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as span:
        span.set_attribute("rebac.source", source)
        span.set_attribute("rebac.permission", permission)
        span.set_attribute("rebac.resource_type", resource_type)
        if revision is not None:
            span.set_attribute("rebac.revision", revision)
        try:
            decision = await decide()
        except Exception as exc:
            from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415 - loaded once tracing is on

            details = exc.details if isinstance(exc, RebacError) else {}
            if "decisionId" in details:
                span.set_attribute("rebac.decision_id", str(details["decisionId"]))
            span.set_attribute("rebac.result", "error")
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        if decision.decision_id is not None:
            span.set_attribute("rebac.decision_id", decision.decision_id)
        span.set_attribute("rebac.result", _RESULTS.get(decision.result.permissionship.value, "denied"))
        return decision
