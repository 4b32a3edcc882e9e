"""send_push against real receivers on 127.0.0.1: headers, limits, timeouts, failures."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import Settings
from faxpush.delivery.http import DELIVERY_ID_HEADER, Timeouts, session_from_settings
from faxpush.storage.base import RESPONSE_BODY_LIMIT
from tests.integration.servers import FAST, always_ok, push, push_session, serve, serve_raw


async def test_push_sends_the_body_and_the_faxpush_headers() -> None:
    async def answer(_request: web.Request) -> web.StreamResponse:
        response = web.Response(status=202, text="accepted")
        response.headers.add("X-Seen", "a")
        response.headers.add("X-Seen", "b")
        response.set_cookie("session", "abc")
        return response

    async with serve(answer) as server, push_session() as s:
        result = await push(s, server.url("/hook?customer=99999TE"), delivery_id="FJ1-abc")
        await push(s, server.url("/hook?customer=99999TE"), delivery_id="FJ2-def")
    assert (result.http_status, result.error_class, result.error_message) == (202, None, None)
    assert result.response_body == b"accepted"
    assert result.response_truncated is False
    assert result.response_headers["X-Seen"] == "a, b"
    assert result.retry_after is None
    assert result.auth_steps == ()
    assert 0 < result.duration_ms < 5000
    first, second = server.requests
    assert (first.method, first.path, first.body) == (
        "POST",
        "/hook?customer=99999TE",
        b"<faxJobReport/>",
    )
    assert first.headers["User-Agent"] == "faxpush/0.1.0"
    assert first.headers["Content-Type"] == "application/xml"
    assert first.headers[DELIVERY_ID_HEADER] == "FJ1-abc"
    assert "Authorization" not in first.headers
    assert "Accept-Encoding" not in first.headers
    assert second.headers[DELIVERY_ID_HEADER] == "FJ2-def"
    assert "Cookie" not in second.headers  # nothing is carried from one push to the next


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_reported_not_followed(status: int) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        if request.path == "/elsewhere":
            return web.Response(text="should never be asked")
        return web.Response(status=status, headers={"Location": "/elsewhere"})

    async with serve(redirect) as server, push_session() as s:
        result = await push(s, server.url("/push"))
    assert (result.http_status, result.error_class) == (status, None)
    assert result.error_message is not None
    assert "/elsewhere" in result.error_message
    assert "not followed" in result.error_message
    assert server.paths() == ["/push"]


async def test_error_statuses_keep_retry_after_raw() -> None:
    async def busy(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="later", headers={"Retry-After": "120"})

    async with serve(busy) as server, push_session() as s:
        result = await push(s, server.url("/"))
    assert (result.http_status, result.error_class) == (503, None)
    assert result.retry_after == "120"
    assert result.error_message == "receiver answered HTTP 503"
    assert result.response_body == b"later"


async def test_hanging_receiver_ends_within_the_deadline() -> None:
    async def hang(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(10)
        return web.Response()

    async with serve(hang) as server, push_session() as s:
        started = time.monotonic()
        result = await push(s, server.url("/"), timeouts=Timeouts(connect=0.5, read=5, total=0.5))
        elapsed = time.monotonic() - started
    assert (result.http_status, result.error_class) == (None, "timeout")
    assert result.error_message is not None
    assert "0.5 s deadline" in result.error_message
    assert elapsed < 1.5
    assert 450 <= result.duration_ms < 1500


async def test_silent_receiver_hits_the_read_timeout() -> None:
    async def silent(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(10)
        return web.Response()

    async with serve(silent) as server, push_session() as s:
        result = await push(s, server.url("/"), timeouts=Timeouts(connect=0.5, read=0.3, total=5))
    assert result.error_class == "timeout"
    assert result.error_message is not None
    assert "sent nothing for 0.3 s" in result.error_message
    assert result.duration_ms < 1500


async def test_trickling_body_is_cut_off_at_the_deadline() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(200):
            await response.write(b".")
            await asyncio.sleep(0.05)
        return response

    async with serve(trickle) as server, push_session() as s:
        result = await push(s, server.url("/"), timeouts=Timeouts(connect=0.5, read=2, total=0.5))
    assert (result.http_status, result.error_class) == (200, "timeout")
    assert result.error_message is not None
    assert "body" in result.error_message
    assert result.duration_ms < 1500


@pytest.mark.parametrize(
    ("size", "truncated"),
    [(RESPONSE_BODY_LIMIT, False), (RESPONSE_BODY_LIMIT + 1, True), (1024 * 1024, True)],
)
async def test_response_body_is_capped(size: int, truncated: bool) -> None:
    payload = bytes(i % 251 for i in range(size))

    async def big(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=payload)

    async with serve(big) as server, push_session() as s:
        result = await push(s, server.url("/"))
    assert result.http_status == 200
    assert result.response_body == payload[:RESPONSE_BODY_LIMIT]
    assert result.response_truncated is truncated


async def test_endless_body_does_not_keep_the_attempt_busy() -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * 65536
        for _ in range(4096):  # 256 MiB at most, far more than is ever read
            await response.write(chunk)
        return response

    async with serve(endless) as server, push_session() as s:
        result = await push(s, server.url("/"))
    assert (result.http_status, result.error_class) == (200, None)
    assert len(result.response_body) == RESPONSE_BODY_LIMIT
    assert result.response_truncated
    assert result.duration_ms < 2000


async def test_refused_connection_is_a_connect_error() -> None:
    async with serve(always_ok) as server:
        url = server.url("/")
    async with push_session() as s:
        result = await push(s, url, timeouts=FAST)
    assert (result.http_status, result.error_class) == (None, "connect")
    assert result.error_message is not None
    assert url.split("//")[1].split("/")[0] in result.error_message


async def test_receiver_closing_without_an_answer_is_a_connect_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async with serve_raw(hang_up) as server, push_session() as s:
        result = await push(s, server.url("/"))
    assert (result.http_status, result.error_class) == (None, "connect")


async def test_answer_that_is_not_http_is_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SMTP READY\r\n\r\n")
        await writer.drain()

    async with serve_raw(garbage) as server, push_session() as s:
        result = await push(s, server.url("/"))
    assert (result.http_status, result.error_class) == (None, "protocol")
    assert result.error_message is not None
    assert server.url("/") in result.error_message


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/push", "not a url", "http:///nohost", "http://user:pw@127.0.0.1/push"],
)
async def test_invalid_push_urls_are_refused_before_sending(url: str) -> None:
    async with push_session() as s:
        result = await push(s, url)
    assert (result.http_status, result.error_class) == (None, "invalid_url")
    assert result.error_message is not None
    assert "pw" not in result.error_message


async def test_per_host_limit_bounds_concurrent_requests() -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.1)
        return web.Response()

    async with serve(slow) as server, push_session(limit=100, limit_per_host=2) as s:
        results = await asyncio.gather(*(push(s, server.url("/")) for _ in range(8)))
    assert [r.http_status for r in results] == [200] * 8
    assert server.max_in_flight == 2


async def test_global_limit_bounds_requests_across_hosts() -> None:
    in_flight = [0, 0]  # now, highest

    async def slow(_request: web.Request) -> web.StreamResponse:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.1)
        in_flight[0] -= 1
        return web.Response()

    async with (
        serve(slow) as first,
        serve(slow) as second,
        push_session(limit=3, limit_per_host=10) as s,
    ):
        results = await asyncio.gather(
            *(push(s, server.url("/")) for server in (first, second) for _ in range(5))
        )
    assert [r.http_status for r in results] == [200] * 10
    assert in_flight[1] == 3


async def test_session_and_timeouts_from_settings() -> None:
    settings = Settings.from_env(
        {
            "FAXPUSH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "FAXPUSH_PER_HOST_CONCURRENCY": "1",
            "FAXPUSH_ATTEMPT_DEADLINE": "0.5",
        }
    )
    timeouts = Timeouts.from_settings(settings)
    assert timeouts == Timeouts(connect=5.0, read=10.0, total=0.5)

    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.05)
        return web.Response()

    async with serve(slow) as server:
        session = session_from_settings(settings)
        try:
            results = await asyncio.gather(
                *(push(session, server.url("/"), timeouts=timeouts) for _ in range(3))
            )
        finally:
            await session.close()
        async with push_session(allowed=()) as closed:
            refused = await push(closed, server.url("/"))
    assert [r.http_status for r in results] == [200] * 3
    assert server.max_in_flight == 1
    assert refused.error_class == "refused_address"


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="'read'"):
        Timeouts(read=0)
