"""The operator console over real HTTP: ``faxpush admin serve``'s server with the console
beside the API, on a SQLite file, on 127.0.0.1. Login (token and console user), redirects
without a session, CSRF refusals, escaping of hostile values, every page, the actions."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from faxpush.admin.server import AdminServerInfo, operator_store, run_admin
from faxpush.admin.tokens import new_token, token_hash
from faxpush.cli._console import console_for
from faxpush.console.pages import TIMELINE_ATTEMPTS
from faxpush.core.outcome import Verdict
from faxpush.core.passwords import hash_password
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.targets import Account, PushTarget
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush
from faxpush.storage.cipher import generate_key
from faxpush.storage.factory import open_configured_store
from faxpush.storage.operator import OperatorStore, TokenScope
from tests.contract.builders import LEASE, NOW, new_push, result

HOSTILE_JOB = "<img src=x onerror=alert(1)>"
HOSTILE_BODY = b"<script>alert(1)</script>"
RECEIVER = "http://127.0.0.1:9"
TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class Console:
    url: str
    store: OperatorStore
    write_token: str
    read_token: str
    failed_id: str
    pending_id: str


def _push(delivery_id: str, job_id: str, body: bytes = b"<FaxJobReport/>") -> NewPush:
    target = PushTarget(url=f"{RECEIVER}/hook", principal="ops", credentials=Secret("s3cret!"))
    return NewPush(delivery_id, job_id, target, "text/xml", body, customer_number="12345")


async def _seed(store: OperatorStore) -> tuple[str, str]:
    """A failed push with a hostile job id and a hostile answer, and pending ones."""
    now = datetime.now(UTC)
    await store.put_account(
        Account(
            "12345",
            push_url="https://u:pw@hooks.example.test/x",
            push_principal="u",
            push_credentials=Secret("account-secret"),
        )
    )
    await store.enqueue_many(
        [_push("d-hostile", HOSTILE_JOB, b"<b>" + HOSTILE_BODY + b"</b>")], now=now
    )
    claimed = await store.claim(worker_id="t", limit=1, lease=timedelta(seconds=30), now=now)
    attempt = AttemptRecord(
        "d-hostile",
        1,
        now,
        12.5,
        500,
        None,
        "HTTP 500",
        response_headers={"X-Evil": '"><script>alert(2)</script>'},
        response_body=HOSTILE_BODY,
    )
    await store.finish(
        [
            AttemptResult(
                "d-hostile", claimed[0].claim_id, attempt, Verdict.FAILED, error="HTTP 500"
            )
        ],
        now=now,
    )
    later = now + timedelta(seconds=1)
    await store.enqueue_many([_push(f"d-{n:03d}", f"job-{n:03d}") for n in range(60)], now=later)
    return "d-hostile", "d-059"


async def _token(store: OperatorStore, name: str, scope: TokenScope) -> str:
    token = new_token()
    await store.create_api_token(name, scope, token_hash(token), now=datetime.now(UTC))
    return token


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    directory: Path = tmp_path_factory.mktemp("console")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'console.db'}",
        secret_key=Secret(generate_key()),
        admin_listen="127.0.0.1:0",
    )
    seed = operator_store(await open_configured_store(settings, notify=lambda _m: None))
    failed_id, pending_id = await _seed(seed)
    write = await _token(seed, "writer", TokenScope.WRITE)
    read = await _token(seed, "reader", TokenScope.READ)
    stop = asyncio.Event()
    started: asyncio.Future[AdminServerInfo] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        run_admin(
            settings,
            stop=stop,
            on_ready=started.set_result,
            handle_signals=False,
            beside=console_for(None),
        )
    )
    try:
        waited: set[asyncio.Future[Any]] = {started, serving}
        await asyncio.wait(waited, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()
        yield Console(started.result().url, seed, write, read, failed_id, pending_id)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(serving, return_exceptions=True), 30)
        await seed.close()


def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=TIMEOUT, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _login(client: aiohttp.ClientSession, console: Console, token: str) -> None:
    async with client.post(
        console.url + "/login", data={"token": token, "next": "/pushes"}, allow_redirects=False
    ) as answer:
        assert answer.status == 303, await answer.text()
        assert answer.headers["Location"] == "/pushes"
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie.replace("Strict", "strict")


async def _get(client: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with client.get(url, allow_redirects=False) as answer:
        return answer.status, await answer.text()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest_asyncio.fixture(loop_scope="module")
async def writer(console: Console) -> AsyncIterator[aiohttp.ClientSession]:
    async with _client() as client:
        await _login(client, console, console.write_token)
        yield client


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_every_page_redirects_to_login_without_a_session(console: Console) -> None:
    async with _client() as client:
        for path in ("/", "/pushes", f"/pushes/{console.failed_id}", "/receivers", "/accounts"):
            async with client.get(console.url + path, allow_redirects=False) as answer:
                assert answer.status == 303, path
                assert answer.headers["Location"].startswith("/login?next=")
        status, html = await _get(client, console.url + "/login")
        assert status == 200
        assert 'id="login-form"' in html


async def test_the_api_is_unchanged_beside_the_console(console: Console) -> None:
    async with _client() as client:
        headers = {"Authorization": f"Bearer {console.read_token}"}
        async with client.get(console.url + "/api/v1/pushes?limit=1", headers=headers) as answer:
            assert answer.status == 200
            assert len((await answer.json())["pushes"]) == 1
        async with client.get(console.url + "/api/v1/nothing-here") as answer:
            assert (answer.status, (await answer.json())["error"]) == (404, "not_found")


async def test_every_page_answers_with_its_content(
    console: Console, writer: aiohttp.ClientSession
) -> None:
    expected = {
        "/": ["overview-tiles", "chart-over-time", "chart-day", "failing-receivers", RECEIVER],
        "/pushes": ["pushes-table", "d-059", 'data-live-url="/pushes?fragment=rows"'],
        f"/pushes/{console.failed_id}": ["push-summary", "attempt-1", "HTTP 500", "fragment=live"],
        "/receivers": ["receivers-table", RECEIVER],
        "/accounts": ["accounts-table", "12345", "(set)"],
    }
    for path, needles in expected.items():
        status, html = await _get(writer, console.url + path)
        assert status == 200, (path, html[:300])
        for needle in needles:
            assert needle in html, (path, needle)
    _, accounts = await _get(writer, console.url + "/accounts")
    assert "account-secret" not in accounts
    assert "pw@" not in accounts
    status, _ = await _get(writer, console.url + "/jobs")
    assert status == 404  # no job store beside faxpush admin


async def test_hostile_values_are_escaped(console: Console, writer: aiohttp.ClientSession) -> None:
    _, html = await _get(writer, console.url + f"/pushes/{console.failed_id}")
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the answer and the body
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the job id
    assert "&#34;&gt;&lt;script&gt;alert(2)" in html  # a response header
    assert "s3cret!" not in html
    _, rows = await _get(writer, console.url + "/pushes?state=failed")
    assert "&lt;img src=x onerror=alert(1)&gt;" in rows
    assert "<img src=x" not in rows
    status, html = await _get(writer, console.url + "/pushes?jobId=" + HOSTILE_JOB)
    assert status == 200
    assert "<img src=x" not in html


async def test_errors_durations_and_windows_read_cleanly(
    console: Console, writer: aiohttp.ClientSession
) -> None:
    _, push = await _get(writer, console.url + f"/pushes/{console.failed_id}")
    assert re.search(r'data-testid="attempt-error">HTTP 500</dd>', push)  # no class, no ": "
    _, rows = await _get(writer, console.url + "/pushes?state=failed")
    assert 'title="HTTP 500" data-testid="push-last-error">HTTP 500</td>' in rows
    _, receivers = await _get(writer, console.url + "/receivers")
    assert 'data-testid="receiver-p99">≤ 25</td>' in receivers  # 12.5 ms, bucket (10, 25]
    _, overview = await _get(writer, console.url + "/")
    window = re.search(r"UTC (\d{4}-\d\d-\d\d) (\d\d:\d\d) to (\d{4}-\d\d-\d\d) \2", overview)
    assert window, "the day's window names both dates"
    assert window.group(1) < window.group(3)


async def test_filters_and_keyset_pages(console: Console, writer: aiohttp.ClientSession) -> None:
    _, first = await _get(writer, console.url + "/pushes?state=pending")
    assert first.count('data-testid="push-row"') == 50
    older = re.search(r'href="(/pushes\?[^"]+)" id="next-page"', first)
    assert older is not None
    _, second = await _get(writer, console.url + older.group(1).replace("&amp;", "&"))
    assert second.count('data-testid="push-row"') == 10
    assert "d-000" in second
    assert "d-059" not in second
    assert 'id="next-page"' not in second
    _, live = await _get(writer, f"{console.url}/pushes/{console.failed_id}?fragment=live")
    assert 'id="attempt-1"' in live
    assert 'id="push-summary"' in live
    assert "<html" not in live
    _, fragment = await _get(writer, console.url + "/pushes?jobId=job-007&fragment=rows")
    assert fragment.count('data-testid="push-row"') == 1
    assert "<html" not in fragment
    status, html = await _get(writer, console.url + "/pushes?state=nonsense")
    assert status == 400
    assert "state must be one of" in html


async def test_a_post_without_a_csrf_token_is_refused(
    console: Console, writer: aiohttp.ClientSession
) -> None:
    url = f"{console.url}/pushes/{console.failed_id}/redeliver"
    async with writer.post(url, data={}, allow_redirects=False) as answer:
        assert answer.status == 403
    async with writer.post(url, data={"csrf": "forged"}, allow_redirects=False) as answer:
        assert answer.status == 403
    record = await console.store.get_push(console.failed_id)
    assert record is not None
    assert record.state.value == "failed"


async def test_redeliver_and_cancel(console: Console, writer: aiohttp.ClientSession) -> None:
    _, html = await _get(writer, console.url + f"/pushes/{console.pending_id}")
    async with writer.post(
        f"{console.url}/pushes/{console.pending_id}/cancel",
        data={"csrf": _csrf(html)},
        allow_redirects=False,
    ) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == f"/pushes/{console.pending_id}?done=cancelled"
    status, html = await _get(writer, console.url + f"/pushes/{console.pending_id}?done=cancelled")
    assert status == 200
    assert 'data-testid="push-state">cancelled' in html
    async with writer.post(
        f"{console.url}/pushes/{console.pending_id}/redeliver",
        data={"csrf": _csrf(html)},
        allow_redirects=False,
    ) as answer:
        assert answer.status == 303
    record = await console.store.get_push(console.pending_id)
    assert record is not None
    assert record.state.value == "pending"
    async with writer.post(
        f"{console.url}/pushes/{console.pending_id}/redeliver", data={"csrf": _csrf(html)}
    ) as answer:
        assert answer.status == 409


async def test_a_read_token_may_look_but_not_act(console: Console) -> None:
    async with _client() as reader:
        await _login(reader, console, console.read_token)
        status, html = await _get(reader, console.url + f"/pushes/{console.failed_id}")
        assert status == 200
        assert "(read-only)" in html
        async with reader.post(
            f"{console.url}/pushes/{console.failed_id}/redeliver", data={"csrf": _csrf(html)}
        ) as answer:
            assert answer.status == 403


async def test_logout_ends_the_session(console: Console) -> None:
    async with _client() as client:
        await _login(client, console, console.write_token)
        _, html = await _get(client, console.url + "/")
        async with client.post(
            console.url + "/logout", data={"csrf": _csrf(html)}, allow_redirects=False
        ) as answer:
            assert answer.status == 303
        status, _ = await _get(client, console.url + "/")
        assert status == 303


async def test_a_console_user_logs_in_with_a_password(console: Console) -> None:
    await console.store.create_console_user(
        "alice", hash_password("a long passphrase 1"), now=datetime.now(UTC)
    )
    async with _client() as client:
        async with client.post(
            console.url + "/login", data={"user": "alice", "password": "wrong"}
        ) as answer:
            assert answer.status == 401
        async with client.post(
            console.url + "/login",
            data={"user": "alice", "password": "a long passphrase 1"},
            allow_redirects=False,
        ) as answer:
            assert (answer.status, answer.headers["Location"]) == (303, "/")
        status, html = await _get(client, console.url + "/")
        assert status == 200
        assert 'data-testid="who">alice' in html


async def test_a_user_deleted_and_created_again_must_log_in_again(console: Console) -> None:
    await console.store.create_console_user(
        "bob", hash_password("the first passphrase"), now=datetime.now(UTC)
    )
    async with _client() as client:
        async with client.post(
            console.url + "/login",
            data={"user": "bob", "password": "the first passphrase"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303
        assert (await _get(client, console.url + "/"))[0] == 200
        # Someone else gets the name: the old session must not carry over to the new user.
        assert await console.store.delete_console_user("bob")
        await console.store.create_console_user(
            "bob", hash_password("another passphrase"), now=datetime.now(UTC)
        )
        status, _ = await _get(client, console.url + "/")
        assert status == 303  # back to the login page
        assert await console.store.delete_console_user("bob")


async def test_login_never_redirects_off_site(console: Console) -> None:
    async with (
        _client() as client,
        client.post(
            console.url + "/login",
            data={"token": console.read_token, "next": "//evil.example/x"},
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.headers["Location"] == "/"


async def test_the_push_page_shows_the_newest_attempts_of_a_long_history(
    console: Console, writer: aiohttp.ClientSession
) -> None:
    store = console.store
    await store.enqueue(new_push("d-many"), now=NOW)  # due long before the seeded pushes
    for n in range(TIMELINE_ATTEMPTS + 3):
        at = NOW + timedelta(seconds=2 * n + 1)
        claims = await store.claim(worker_id="t", limit=1, lease=LEASE, now=at)
        assert [c.push.delivery_id for c in claims] == ["d-many"]
        retry_at = at + timedelta(seconds=1)
        await store.finish([result(claims[0], Verdict.RETRY, next_attempt_at=retry_at)], now=at)
    status, html = await _get(writer, console.url + "/pushes/d-many")
    assert status == 200
    numbers = [int(n) for n in re.findall(r'data-testid="attempt" data-number="(\d+)"', html)]
    assert numbers == list(range(TIMELINE_ATTEMPTS + 3, 3, -1))  # the newest 100, newest first
    assert "3 older attempts not shown" in html


# Last: the failures slow down every later login from 127.0.0.1.
async def test_a_wrong_token_is_refused_and_slowed_down(console: Console) -> None:
    async with _client() as client:
        times = []
        for _ in range(3):
            started = time.monotonic()
            async with client.post(console.url + "/login", data={"token": "fxp_nope"}) as answer:
                assert answer.status == 401
                assert "wrong user name, password or token" in await answer.text()
            times.append(time.monotonic() - started)
        assert times[2] >= 0.45  # the third try waits after two failures


# After the test above: the address's failures make the admitted guess wait, so the others
# arrive while it is under way.
async def test_parallel_guesses_are_not_checked_together(console: Console) -> None:
    await console.store.create_console_user(
        "carol", hash_password("carol's passphrase"), now=datetime.now(UTC)
    )

    async def guess(client: aiohttp.ClientSession, n: int) -> tuple[int, str]:
        data = {"user": "carol", "password": f"guess {n}"}
        async with client.post(console.url + "/login", data=data) as answer:
            return answer.status, await answer.text()

    async with _client() as client:
        answers = await asyncio.gather(*(guess(client, n) for n in range(8)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [401] + [429] * 7, statuses
    assert all("another login with this name" in text for status, text in answers if status == 429)
