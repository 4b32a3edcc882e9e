"""The ASGI app in process: status codes, headers, order of checks, OpenAPI, mounts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime

import pytest

from faxpush.core.errors import StorageError
from faxpush.receiver import (
    BasicVerifier,
    InboxEntry,
    MemoryInbox,
    PushReceiver,
    Receipt,
    ReceiverApp,
    create_app,
)
from faxpush.receiver.app import Message, Receive, Scope, Send
from faxpush.receiver.inbox import Accepted, InboxStore, IncomingPush
from tests.receiver.asgi import call
from tests.receiver.serving import basic
from tests.samples import sample

XML = ("content-type", "text/xml; charset=UTF-8")
AUTH = basic("alice", "s3cret")


@pytest.fixture
async def app() -> AsyncIterator[ReceiverApp]:
    receiver = PushReceiver(verifier=BasicVerifier({"alice": "s3cret"}), inbox="memory://")
    app = create_app(receiver)
    await app.startup()
    try:
        yield app
    finally:
        await app.shutdown()


async def test_a_push_is_stored_then_recognised(app: ReceiverApp) -> None:
    headers = [XML, AUTH, ("faxpush-delivery-id", "d-1")]
    first = await call(
        app, target="/fax/status?x=1", body=sample("report-full.xml"), headers=headers
    )
    assert first.status == 200
    assert json.loads(first.body) == {
        "status": "stored",
        "key": "delivery:d-1",
        "jobId": "FJ7QK2M9X40ABCDEFGH123",
    }
    again = await call(app, target="/elsewhere", body=sample("report-full.xml"), headers=headers)
    assert (again.status, json.loads(again.body)["status"]) == (200, "duplicate")
    assert await app.receiver.inbox.count() == 1


async def test_without_delivery_id_the_report_statuses_are_the_key(app: ReceiverApp) -> None:
    xml = await call(app, body=sample("report-full.xml"), headers=[XML, AUTH])
    same_in_json = await call(
        app, body=sample("report-full.json"), headers=[("content-type", "application/json"), AUTH]
    )
    assert json.loads(xml.body)["status"] == "stored"
    assert json.loads(same_in_json.body)["status"] == "duplicate"


@pytest.mark.parametrize(
    ("method", "target", "body", "headers", "status", "error"),
    [
        ("GET", "/", b"", [AUTH], 405, "method_not_allowed"),
        ("PUT", "/", b"", [AUTH], 405, "method_not_allowed"),
        ("POST", "/", b"<a/>", [XML], 401, "unauthorized"),
        ("POST", "/", b"<a/>", [XML, basic("alice", "nope")], 401, "unauthorized"),
        ("POST", "/", b"{}", [("content-type", "text/plain"), AUTH], 415, "unsupported_media_type"),
        ("POST", "/", b"{}", [AUTH], 415, "unsupported_media_type"),
        ("POST", "/", b"<a/>", [XML, AUTH], 400, "invalid_report"),
        (
            "POST",
            "/",
            b"<a/>",
            [XML, AUTH, ("faxpush-delivery-id", "has space")],
            400,
            "bad_request",
        ),
        (
            "POST",
            "/",
            b"<a/>",
            [XML, AUTH, ("faxpush-delivery-id", "a"), ("faxpush-delivery-id", "b")],
            400,
            "bad_request",
        ),
        ("POST", "/", b"<a/>", [XML, AUTH, ("content-length", "12x")], 400, "bad_request"),
    ],
)
async def test_refusals(
    app: ReceiverApp,
    method: str,
    target: str,
    body: bytes,
    headers: list[tuple[str, str]],
    status: int,
    error: str,
) -> None:
    answer = await call(app, method, target, body=body, headers=headers)
    assert answer.status == status
    assert answer.header("content-type") == "application/json"
    assert json.loads(answer.body)["error"] == error
    if status == 401:
        assert answer.all("www-authenticate") == ['Basic realm="faxpush", charset="UTF-8"']
    if status == 405:
        assert answer.header("allow") == "POST"


async def test_declared_length_over_the_limit_is_413_before_reading(app: ReceiverApp) -> None:
    answer = await call(
        app, body=b"x" * 10, headers=[XML, AUTH, ("content-length", str(100 * 2**20))]
    )
    assert answer.status == 413
    assert answer.bytes_read == 0


async def test_a_body_without_length_is_cut_at_the_limit(app: ReceiverApp) -> None:
    big = b"<faxJobReport>" + b" " * (2 * 2**20)
    answer = await call(app, body=big, headers=[XML, AUTH], send_length=False, chunk=65536)
    assert answer.status == 413
    assert answer.bytes_read <= 2**20 + 65536


async def test_auth_is_checked_before_the_body_is_read(app: ReceiverApp) -> None:
    answer = await call(app, body=sample("report-full.xml"), headers=[XML])
    assert answer.status == 401
    assert answer.bytes_read == 0


async def test_openapi_is_served(app: ReceiverApp) -> None:
    answer = await call(app, "GET", "/openapi.json")
    assert answer.status == 200
    document = json.loads(answer.body)
    assert document["paths"]["/"]["post"]["operationId"] == "sendStatusPush"


async def test_path_restriction_and_mounts() -> None:
    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = ReceiverApp(PushReceiver(inbox="memory://"), path="/hook", mounts={"/extra": mounted})
    try:
        assert (await call(app, target="/other", body=b"", headers=[XML])).status == 404
        assert (await call(app, target="/extra/x", body=b"")).status == 204
        ok = await call(app, target="/hook", body=sample("report-minimal.xml"), headers=[XML])
        assert ok.status == 200  # started lazily, on the first push
        assert json.loads((await call(app, "GET", "/openapi.json")).body)["paths"].keys() == {
            "/hook"
        }
    finally:
        await app.shutdown()


async def test_hooks_see_every_outcome_and_a_broken_hook_changes_nothing() -> None:
    receipts: list[Receipt] = []

    def broken(receipt: Receipt) -> None:
        raise RuntimeError("hook bug")

    receiver = PushReceiver(inbox="memory://", on_receipt=[receipts.append, broken])
    app = create_app(receiver)
    await app.startup()
    try:
        await call(app, body=sample("report-full.xml"), headers=[XML])
        await call(app, body=sample("report-full.xml"), headers=[XML])
        await call(app, body=b"nope", headers=[XML])
    finally:
        await app.shutdown()
    assert [(r.status, r.outcome, r.times_received) for r in receipts] == [
        (200, "stored", 1),
        (200, "duplicate", 2),
        (400, "refused", 0),
    ]
    assert receipts[0].auth is not None
    assert receipts[0].auth.describe() == "NONE"
    assert receipts[0].report is not None
    assert receipts[0].report.jobId == "FJ7QK2M9X40ABCDEFGH123"


class FailingInbox(MemoryInbox):
    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        raise StorageError("disk full")


async def test_storage_failure_is_503_with_retry_after() -> None:
    app = create_app(PushReceiver(inbox=FailingInbox()))
    await app.startup()
    try:
        answer = await call(app, body=sample("report-full.xml"), headers=[XML])
    finally:
        await app.shutdown()
    assert answer.status == 503
    assert answer.header("retry-after") == "10"
    assert json.loads(answer.body)["error"] == "storage_unavailable"


class BuggyInbox(MemoryInbox):
    async def accept(
        self, push: IncomingPush, *, handlers: Sequence[str], now: datetime
    ) -> Accepted:
        raise KeyError("bug")


async def test_an_unexpected_bug_is_500(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(PushReceiver(inbox=BuggyInbox()))
    await app.startup()
    try:
        answer = await call(app, body=sample("report-full.xml"), headers=[XML])
    finally:
        await app.shutdown()
    assert answer.status == 500
    assert "receiving a push failed" in caplog.text


async def test_handlers_run_after_the_store_and_only_for_new_pushes() -> None:
    inbox = MemoryInbox()
    seen: list[tuple[str, int]] = []
    ran = asyncio.Event()

    async def stored_first(entry: InboxEntry) -> None:
        stored = await inbox.get(entry.key)
        seen.append((entry.key, 0 if stored is None else stored.times_received))
        ran.set()

    app = create_app(PushReceiver(inbox=inbox, handlers=[stored_first]))
    await app.startup()
    try:
        headers = [XML, ("faxpush-delivery-id", "once")]
        await asyncio.gather(
            *(call(app, body=sample("report-full.xml"), headers=headers) for _ in range(3))
        )
        await asyncio.wait_for(ran.wait(), 5)
        for _ in range(3):
            await call(app, body=sample("report-full.xml"), headers=headers)
        await asyncio.sleep(0.05)
    finally:
        await app.shutdown()
    assert len(seen) == 1
    assert seen[0][0] == "delivery:once"


async def test_receiver_inbox_before_start_is_an_error() -> None:
    receiver = PushReceiver(inbox="memory://")
    with pytest.raises(StorageError):
        receiver.inbox  # noqa: B018 - the property raises
    with pytest.raises(StorageError):
        receiver.runner  # noqa: B018 - the property raises


async def test_lifespan_startup_failure_is_reported() -> None:
    app = create_app(PushReceiver(inbox="sqlite:////nonexistent-dir/x/inbox.db"))
    sent: list[dict[str, object]] = []
    messages: Iterator[dict[str, object]] = iter([{"type": "lifespan.startup"}])

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan"}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "does not exist" in str(sent[0]["message"])


async def test_an_external_inbox_is_left_open(tmp_path: object) -> None:
    inbox: InboxStore = MemoryInbox()
    receiver = PushReceiver(inbox=inbox)
    await receiver.start()
    await receiver.stop()
    assert await inbox.count() == 0  # still usable: the receiver did not close it
