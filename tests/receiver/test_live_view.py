"""``faxpush listen --ui``'s live view in process: what it records of each POST, what it
hides, how many it keeps, and that the page and its feed escape what came in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from faxpush.receiver import BasicVerifier, PushReceiver, create_app
from faxpush.receiver.app import Receive, Scope, Send
from faxpush.receiver.live import LiveApp, LiveRing
from faxpush.receiver.live.ring import SHOWN_BODY_BYTES
from tests.receiver.asgi import call
from tests.receiver.serving import basic
from tests.samples import sample

XML = ("content-type", "text/xml; charset=UTF-8")
AUTH = basic("alice", "s3cret")
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
async def live() -> AsyncIterator[LiveApp]:
    ring = LiveRing(keep=2)
    receiver = PushReceiver(
        verifier=BasicVerifier({"alice": "s3cret"}), inbox="memory://", on_receipt=[ring.observe]
    )
    inner = create_app(receiver)
    await inner.startup()
    try:
        yield LiveApp(inner, ring, push_url="http://127.0.0.1:8080/")
    finally:
        await inner.shutdown()


def _report(job_id: str) -> bytes:
    return sample("report-full.xml").replace(b"FJ7QK2M9X40ABCDEFGH123", job_id.encode())


async def test_a_push_is_recorded_with_its_verdict_and_hidden_credentials(live: LiveApp) -> None:
    answer = await call(live, target="/fax?a=1", body=_report("J-1"), headers=[XML, AUTH])
    assert answer.status == 200
    (push,) = live.ring.newest_first()
    assert (push.seq, push.job_id, push.layout, push.status) == (1, "J-1", "XML", 200)
    assert (push.outcome, push.verdict, push.target) == (
        "stored",
        "accepted: HTTP_BASIC as alice",
        "/fax?a=1",
    )
    assert [(r.number, r.status) for r in push.recipients][1] == ("+4989555000", "BUSY")
    headers = dict(push.headers)
    assert headers["authorization"].startswith("Basic (hidden, ")
    assert AUTH[1].split()[1] not in str(push.headers)
    assert push.body.startswith("<?xml")
    assert push.body_note.endswith(" bytes")


async def test_a_refused_push_shows_why_and_that_its_body_was_not_read(live: LiveApp) -> None:
    answer = await call(live, target="/fax", body=_report("J-2"), headers=[XML])
    assert answer.status == 401
    (push,) = live.ring.newest_first()
    assert push.outcome == "refused"
    assert push.verdict.startswith("refused: ")
    assert push.job_id is None
    assert push.body == ""
    assert push.body_note.startswith("not read")


async def test_the_ring_keeps_the_last_pushes_and_only_posts(live: LiveApp) -> None:
    for n in range(1, 4):
        await call(live, body=_report(f"J-{n}"), headers=[XML, AUTH])
    favicon = await call(live, "GET", "/favicon.ico")
    assert favicon.status == 405  # the receiver's answer; not recorded
    assert [p.job_id for p in live.ring.newest_first()] == ["J-3", "J-2"]
    assert [p.seq for p in live.ring.after(2)] == [3]


async def test_a_long_body_is_cut_for_the_page(live: LiveApp) -> None:
    body = b"{" + b" " * (SHOWN_BODY_BYTES * 2) + b"}"
    await call(live, body=body, headers=[("content-type", "application/json"), AUTH])
    (push,) = live.ring.newest_first()
    assert len(push.body) == SHOWN_BODY_BYTES
    assert push.body_note == f"first {SHOWN_BODY_BYTES} of {len(body)} bytes"
    assert push.layout == "JSON"
    assert push.status == 400


async def test_page_and_feed_escape_what_came_in(live: LiveApp) -> None:
    await call(live, target=f"/x?{HOSTILE}", body=_report(HOSTILE), headers=[XML, AUTH])
    page = await call(live, "GET", "/")
    assert page.status == 200
    assert "script-src 'self'" in (page.header("content-security-policy") or "")
    text = page.body.decode()
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    feed = await call(live, "GET", "/_live/pushes?after=0")
    document = json.loads(feed.body)
    assert document["last"] == 1
    (fragment,) = document["pushes"]
    assert HOSTILE not in fragment
    assert 'data-seq="1"' in fragment
    assert json.loads((await call(live, "GET", "/_live/pushes?after=1")).body)["pushes"] == []
    script = await call(live, "GET", "/_live/live.js")
    assert script.status == 200
    assert b"fetch(" in script.body


async def test_posts_under_an_unrecorded_prefix_are_passed_on_unseen() -> None:
    ring = LiveRing()
    seen: list[str] = []

    async def token_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    live = LiveApp(token_endpoint, ring, push_url="http://x/", unrecorded=["/oauth2/"])
    answer = await call(live, target="/oauth2/token", body=b"client_secret=s3cret")
    assert answer.status == 200
    assert seen == ["/oauth2/token"]
    assert ring.newest_first() == []
    await call(live, target="/oauth2x", body=b"{}")
    assert [p.target for p in ring.newest_first()] == ["/oauth2x"]
