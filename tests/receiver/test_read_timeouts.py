"""The push app's own body deadline (under any ASGI server), and the throttled warnings."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from typing import Any

import pytest

from faxpush._serving.limits import ServerLimits, default_max_connections, describe_limits
from faxpush._serving.throttle import AcceptErrorHandler, ThrottledWarning
from faxpush.receiver import PushReceiver, Receipt, create_app
from faxpush.receiver._deadlines import BodyDeadlines
from faxpush.receiver.app import Message, ReceiverApp
from tests.receiver.serving import serving
from tests.samples import sample

HEAD_ONLY = (
    b"POST /fax/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
    b"Content-Length: 10\r\n\r\n"
)


def test_the_push_app_answers_408_to_a_late_body_under_a_plain_uvicorn() -> None:
    receipts: list[Receipt] = []
    receiver = PushReceiver(inbox="memory://", on_receipt=[receipts.append])
    with (
        serving(create_app(receiver, body_timeout=0.5)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        started = time.monotonic()
        sock.sendall(HEAD_ONLY)
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes; 5 s at most
            answer += chunk
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer
    assert b'"error":"request_timeout"' in answer
    assert 0.4 < elapsed < 2.5
    assert [(r.status, r.outcome) for r in receipts] == [(408, "refused")]


def test_a_late_read_is_cancelled_and_the_others_are_left_alone() -> None:
    async def scenario() -> tuple[list[str], BodyDeadlines]:
        deadlines = BodyDeadlines(0.2)
        never = asyncio.Event()
        results: list[str] = []

        async def read(name: str, arrives: float | None) -> None:
            task = deadlines.start()
            assert task is not None
            try:
                if arrives is None:
                    await never.wait()
                else:
                    await asyncio.sleep(arrives)
                results.append(f"{name} read")
            except asyncio.CancelledError:
                assert deadlines.timed_out(task)
                task.uncancel()
                results.append(f"{name} timed out")
            finally:
                deadlines.finish(task)

        await asyncio.gather(read("stalled", None), read("quick", 0.05))
        await asyncio.sleep(0.05)
        await asyncio.gather(read("late start", 0.15), read("stalled again", None))
        return results, deadlines

    started = time.monotonic()
    results, deadlines = asyncio.run(scenario())
    assert sorted(results) == [
        "late start read",
        "quick read",
        "stalled again timed out",
        "stalled timed out",
    ]
    assert time.monotonic() - started < 1.5
    assert not deadlines._reads
    assert not deadlines._timed_out


def test_a_client_that_hangs_up_mid_body_is_refused_as_such() -> None:
    receipts: list[Receipt] = []
    app = ReceiverApp(PushReceiver(inbox="memory://", on_receipt=[receipts.append]))
    body = sample("report-full.xml")
    messages: list[Message] = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"text/xml"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def scenario() -> None:
        await app.startup()
        try:
            await app(scope, receive, send)
        finally:
            await app.shutdown()

    asyncio.run(scenario())
    assert sent[0]["status"] == 400
    assert receipts[0].reason == "The client closed the connection before the whole body arrived."


def test_a_throttled_warning_is_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    warning = ThrottledWarning(logging.getLogger("tests.throttle"), 10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        assert warning.warning("out of files")
        for _ in range(5):
            now[0] += 1
            assert not warning.warning("out of files")
        assert warning.suppressed == 5
        now[0] += 5
        assert warning.warning("out of files")
        assert not warning.warning("out of files")
    assert [r.getMessage() for r in caplog.records] == [
        "out of files",
        "out of files (5 more like it in the 10 s before, not shown)",
    ]


def test_failed_accepts_are_throttled_and_other_loop_errors_pass_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    passed_on: list[dict[str, Any]] = []
    handler = AcceptErrorHandler(
        logging.getLogger("tests.accept"),
        fallback=lambda _loop, context: passed_on.append(context),
    )
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(handler)
        with caplog.at_level(logging.WARNING):
            for _ in range(2048):  # what one readable event cost before: one per backlog slot
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                    }
                )
            loop.call_exception_handler({"message": "something else", "exception": KeyError()})
    finally:
        loop.close()
    accept_records = [r for r in caplog.records if r.name == "tests.accept"]
    assert len(accept_records) == 1
    assert "Too many open files" in accept_records[0].getMessage()
    assert "ulimit -n" in accept_records[0].getMessage()
    assert [c["message"] for c in passed_on] == ["something else"]


@pytest.mark.parametrize(
    ("file_limit", "expected"),
    [(None, 1000), (1024, 896), (64, 32), (20, 1), (1_048_576, 1000)],
)
def test_the_default_connection_limit_leaves_files_for_the_rest(
    file_limit: int | None, expected: int
) -> None:
    assert default_max_connections(file_limit) == expected


def test_the_banner_warns_when_the_connection_limit_cannot_fit_the_open_files() -> None:
    fits = describe_limits(ServerLimits(10, 30, 896), 1024)
    assert fits == "headers within 10 s, body within 30 s, at most 896 connections"
    too_many = describe_limits(ServerLimits(10, 30, 500), 64)
    assert "more than the open-file limit of 64 allows" in too_many
