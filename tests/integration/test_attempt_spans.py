"""OpenTelemetry: one span per attempt through the real dispatcher, nothing without a provider.

The spans go to the SDK's in-memory exporter on a tracer provider of the test's own (the
global provider is set at most once per process, so it is left alone).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from faxpush._observe.tracing import span_recorder
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.delivery.hooks import ATTEMPT_SPAN, TraceAttempt, default_hooks, log_attempt
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

from .servers import basic_protected, serve
from .test_dispatcher import all_final, running, settings, wait_until


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def test_one_span_per_attempt_with_its_attributes(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    store = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await store.migrate()
    answers = iter([web.Response(status=503)])
    protected = basic_protected("hook", "pw-S3cret")

    async def flaky(request: web.Request) -> web.StreamResponse:
        return next(answers, None) or await protected(request)

    recorder = span_recorder(provider)
    assert recorder is not None
    try:
        async with serve(flaky) as receiver:
            target = PushTarget(
                receiver.url("/fax"), AuthMethod.HTTP_BASIC, "hook", Secret("pw-S3cret")
            )
            push = NewPush("d-1", "J1", target, "text/xml", b"<faxJobReport/>")
            before = datetime.now(UTC)
            await store.enqueue(push, now=before)
            async with running(store, settings(), hooks=(TraceAttempt(recorder),)):
                await wait_until(lambda: all_final(store))
    finally:
        await store.close()
    first, second = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    for number, span in enumerate((first, second), start=1):
        assert span.name == ATTEMPT_SPAN
        assert span.kind is SpanKind.CLIENT
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "faxpush"
        attributes = dict(span.attributes or {})
        assert attributes["faxpush.delivery_id"] == "d-1"
        assert attributes["faxpush.job_id"] == "J1"
        assert attributes["faxpush.attempt"] == number
        assert attributes["faxpush.auth_method"] == "HTTP_BASIC"
        assert attributes["url.full"] == receiver.url("/fax")
        assert "pw-S3cret" not in str(attributes)
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.start_time >= before.timestamp() * 1e9 - 1e6
        assert span.end_time >= span.start_time
    assert first.attributes is not None
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["faxpush.verdict"] == "retry"
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes is not None
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["faxpush.verdict"] == "delivered"
    assert "error.type" not in second.attributes
    assert second.status.status_code is StatusCode.UNSET


async def test_a_connection_error_is_the_error_type(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    recorder = span_recorder(provider)
    assert recorder is not None
    hook = TraceAttempt(recorder)
    store = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await store.migrate()
    try:
        target = PushTarget("http://127.0.0.1:9/x")  # nothing listens on the discard port
        push = NewPush("d-2", "J2", target, "text/xml", b"<x/>", max_attempts=1)
        await store.enqueue(push, now=datetime.now(UTC))
        async with running(store, settings(), hooks=(hook,)):
            await wait_until(lambda: all_final(store))
    finally:
        await store.close()
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "connect"
    assert span.attributes["faxpush.verdict"] == "failed"
    assert "http.response.status_code" not in span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description
    assert span.end_time is not None
    assert span.start_time is not None
    assert 0 <= span.end_time - span.start_time < 10e9


def test_no_provider_no_hook_and_no_opentelemetry_no_recorder(
    monkeypatch: pytest.MonkeyPatch, provider: TracerProvider
) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert span_recorder() is None
    assert default_hooks() == (log_attempt,)
    assert span_recorder(trace.NoOpTracerProvider()) is None
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    log, spans = default_hooks()
    assert log is log_attempt
    assert isinstance(spans, TraceAttempt)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if it were not installed
    assert span_recorder() is None
