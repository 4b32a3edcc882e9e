"""OpenTelemetry spans, when ``opentelemetry-api`` is installed and a tracer provider is set.

faxpush never configures OpenTelemetry itself: the program that embeds it sets the tracer
provider and its exporter, or ``opentelemetry-instrument faxpush worker`` does from the
``OTEL_*`` variables. :func:`span_recorder` looks once, when a dispatcher is built. None
means no OpenTelemetry (not installed, or only its no-op provider), and then the caller adds
no hook at all: an attempt costs nothing more than without tracing.

Spans are written after the fact with the attempt's own start and end time, so they can be
recorded by a hook that runs once the result is committed, off the send path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from faxpush._version import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

AttributeValue = str | int | float | bool
TRACER_NAME = "faxpush"


class SpanRecorder:
    """Writes finished spans to one tracer (see :func:`span_recorder`)."""

    def __init__(self, tracer: Tracer) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._tracer = tracer
        self._client = SpanKind.CLIENT
        self._status = Status
        self._error = StatusCode.ERROR

    def record(
        self,
        name: str,
        *,
        started_at: datetime,
        duration_ms: float,
        attributes: Mapping[str, AttributeValue],
        error: str | None = None,
    ) -> None:
        """One client span from ``started_at`` lasting ``duration_ms``; ``error`` sets its
        status to ERROR with that description."""
        start_ns = int(started_at.timestamp() * 1e9)
        span = self._tracer.start_span(
            name, kind=self._client, attributes=attributes, start_time=start_ns
        )
        if error is not None:
            span.set_status(self._status(self._error, error))
        span.end(end_time=start_ns + int(duration_ms * 1e6))


def span_recorder(provider: TracerProvider | None = None) -> SpanRecorder | None:
    """A recorder on ``provider`` (default: the global one), or None when
    ``opentelemetry-api`` is not installed or no real tracer provider is set."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    if provider is None:
        provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return SpanRecorder(provider.get_tracer(TRACER_NAME, __version__))


__all__ = ["TRACER_NAME", "AttributeValue", "SpanRecorder", "span_recorder"]
