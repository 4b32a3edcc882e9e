"""``faxpush worker --http``: /healthz, /readyz and /metrics of a real worker process that
delivers to real receivers on 127.0.0.1, and /readyz following its database away and back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from tests.faults import FaultProxy, Mode
from tests.integration.servers import OAuthServer, always_ok, basic_protected, serve
from tests.pg_support import fresh_database, outbox_template, require_postgres

CLI = [sys.executable, "-m", "faxpush.cli"]
LISTENING = re.compile(r"health and metrics on http://([\d.]+):(\d+)/")
# Values a label may take besides these fixed sets would be unbounded (URLs, ids).
BOUNDED_LABELS = {
    "verdict": {"delivered", "retry", "failed"},
    "auth_method": {m.value for m in AuthMethod},
    "operation": {"claim", "finish"},
    "state": {"pending", "in_flight", "delivered", "failed", "cancelled"},
    "outcome": {"ok", "error", "stored", "duplicate"},
}


def worker_env(database_url: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env |= {
        "FAXPUSH_DATABASE_URL": database_url,
        "FAXPUSH_SECRET_KEY": key,
        "FAXPUSH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "FAXPUSH_WORKER_HTTP": "127.0.0.1:0",
        "FAXPUSH_POLL_INTERVAL": "0.1",
    }
    return env


@asynccontextmanager
async def running_worker(env: dict[str, str]) -> AsyncIterator[str]:
    """A ``faxpush worker`` process; yields the base URL of its --http port."""
    worker = await asyncio.create_subprocess_exec(
        *CLI, "worker", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    seen: list[str] = []

    async def port() -> str:
        assert worker.stderr is not None
        while line := await worker.stderr.readline():
            seen.append(line.decode())
            found = LISTENING.search(seen[-1])
            if found:
                return f"http://{found[1]}:{found[2]}"
        raise AssertionError("the worker ended before serving:\n" + "".join(seen))

    drain: asyncio.Task[bytes] | None = None
    try:
        base = await asyncio.wait_for(port(), 30)
        assert worker.stderr is not None
        drain = asyncio.create_task(worker.stderr.read())  # keep the pipe from filling up
        yield base
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)
        if drain is not None:
            await drain
    assert worker.returncode == 0, "".join(seen)


async def get(base: str, path: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(base + path) as response,
    ):
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def scrape_until(base: str, name: str, labels: dict[str, str], want: float) -> str:
    """Scrape until the sample ``name{labels}`` reaches ``want`` (bounded: 30 s)."""
    key = (name, tuple(sorted(labels.items())))
    last = ""
    for _ in range(300):
        status, last = await get(base, "/metrics")
        assert status == 200
        if samples(last).get(key, 0) >= want:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name}{labels} never reached {want}:\n{last}")


def push(
    n: int, url: str, method: AuthMethod = AuthMethod.NONE, token_url: str | None = None
) -> NewPush:
    credentials = None if method is AuthMethod.NONE else ("u", Secret("p"))
    return NewPush(
        delivery_id=f"d-{method.value}-{n:04d}",
        job_id=f"FJ{n:020d}",
        target=PushTarget(
            url=url,
            auth_method=method,
            principal=None if credentials is None else credentials[0],
            credentials=None if credentials is None else credentials[1],
            token_url=token_url,
        ),
        content_type="application/json",
        body=b'{"jobId": "x"}',
    )


async def enqueue(store: Store, pushes: list[NewPush]) -> None:
    now = datetime.now(UTC)
    for new in pushes:
        await store.enqueue(new, now=now)


async def test_worker_http_serves_health_and_metrics_with_real_counts(tmp_path: Path) -> None:
    key = generate_key()
    database = f"sqlite:///{tmp_path / 'outbox.db'}"
    issuer = OAuthServer("u", "p")
    async with (
        serve(always_ok) as first,
        serve(always_ok) as second,
        serve(basic_protected("u", "p")) as guarded,
        serve(issuer) as oauth,
        serve(OAuthServer("u", "p", token_status=503)) as token_down,
    ):
        # Many distinct URLs (paths, ports, a query): none may become a label value.
        urls = [server.url(f"/hook/{n}?job={n}") for server in (first, second) for n in range(20)]
        store = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([key]))
        try:
            await store.migrate()
            await enqueue(store, [push(n, url) for n, url in enumerate(urls)])
            await enqueue(
                store, [push(n, guarded.url("/b"), AuthMethod.HTTP_BASIC) for n in range(5)]
            )
            oauth2 = [
                push(n, oauth.url("/o"), AuthMethod.OAUTH2, oauth.url("/token")) for n in range(3)
            ]
            down = push(3, token_down.url("/o"), AuthMethod.OAUTH2, token_down.url("/token"))
            await enqueue(store, [*oauth2, down])
        finally:
            await store.close()
        async with running_worker(worker_env(database, key)) as base:
            assert await get(base, "/healthz") == (200, '{"status": "ok"}')
            status, body = await get(base, "/readyz")
            assert (status, body) == (200, '{"status": "ready"}')
            attempts = "faxpush_attempts_total"
            await scrape_until(base, attempts, {"verdict": "delivered", "auth_method": "NONE"}, 40)
            await scrape_until(
                base, attempts, {"verdict": "delivered", "auth_method": "HTTP_BASIC"}, 5
            )
            await scrape_until(base, attempts, {"verdict": "delivered", "auth_method": "OAUTH2"}, 3)
            text = await scrape_until(
                base, "faxpush_oauth2_token_fetches_total", {"outcome": "error"}, 1
            )
            status, _ = await get(base, "/nothing-here")
            assert status == 404
    found = samples(text)
    made = sum(v for (name, _), v in found.items() if name == "faxpush_attempts_total")
    assert made >= 49  # 48 delivered, and the push whose token endpoint is down
    assert found["faxpush_attempt_duration_seconds_count", ()] == made
    assert issuer.token_requests >= 1  # one per client, shared by the three pushes
    fetched = found["faxpush_oauth2_token_fetches_total", (("outcome", "ok"),)]
    assert fetched == issuer.token_requests
    assert found["faxpush_attempts_total", (("auth_method", "OAUTH2"), ("verdict", "retry"))] >= 1
    assert found["faxpush_store_transaction_seconds_count", (("operation", "claim"),)] >= 1
    assert found["faxpush_store_transaction_seconds_count", (("operation", "finish"),)] >= 1
    assert ("faxpush_sends_in_flight", ()) in found
    per_state = {labels[0][1]: v for (name, labels), v in found.items() if name == "faxpush_pushes"}
    assert sum(per_state.values()) == 49  # read from the store; at most 10 s old
    assert set(per_state) == BOUNDED_LABELS["state"]
    assert len(first.requests) == len(second.requests) == 20
    # No label takes an unbounded value: only the fixed sets (and histogram bounds).
    for (name, labels), _value in found.items():
        for label, value in labels:
            if label == "le":
                continue
            assert value in BOUNDED_LABELS[label], (name, label, value)


async def test_worker_without_metrics_serves_health_only(tmp_path: Path) -> None:
    key = generate_key()
    env = worker_env(f"sqlite:///{tmp_path / 'outbox.db'}", key) | {"FAXPUSH_METRICS": "false"}
    async with running_worker(env) as base:
        assert (await get(base, "/healthz"))[0] == 200
        assert (await get(base, "/readyz"))[0] == 200
        status, body = await get(base, "/metrics")
    assert status == 404
    assert "FAXPUSH_METRICS" in body


async def test_worker_http_address_in_use_is_one_line(tmp_path: Path) -> None:
    async with serve(always_ok) as taken:
        port = urlsplit(taken.url()).port
        env = worker_env(f"sqlite:///{tmp_path / 'outbox.db'}", generate_key())
        proc = await asyncio.create_subprocess_exec(
            *CLI, "worker", "--http", f"127.0.0.1:{port}", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err.decode()
    assert "choose another address with --http" in err.decode()
    assert "Traceback" not in err.decode()


async def ready_becomes(base: str, want: int) -> str:
    """Poll /readyz until it answers ``want`` (bounded: 30 s); its last body."""
    body = ""
    for _ in range(150):
        status, body = await get(base, "/readyz")
        if status == want:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz never answered {want}; last: {body}")


async def test_readyz_follows_a_sqlite_schema_change(tmp_path: Path) -> None:
    """A database whose schema is newer than this faxpush is not ready; it is again once the
    schema is back (as after a rollback of an upgrade)."""
    key = generate_key()
    path = tmp_path / "outbox.db"
    store = await SqliteStore.open(path, SecretCipher([key]))
    await store.migrate()
    await store.close()
    async with running_worker(worker_env(f"sqlite:///{path}", key)) as base:
        await ready_becomes(base, 200)
        with sqlite3.connect(path) as conn:
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'x', 0)"
            )
        body = await ready_becomes(base, 503)
        assert "not_ready" in body
        assert "upgrade faxpush" in body
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM schema_version WHERE version = 999")
        await ready_becomes(base, 200)


@pytest.mark.postgres
async def test_readyz_follows_postgresql_away_and_back() -> None:
    """Connections to PostgreSQL cut by a proxy (the server down): 503 with the reason;
    let through again: 200, without restarting the worker."""
    require_postgres()
    template = await outbox_template()
    async with fresh_database(template) as url:
        parts = urlsplit(url)
        assert parts.port is not None
        assert parts.hostname is not None
        async with FaultProxy(parts.port, parts.hostname) as proxy:
            netloc = parts.netloc.rpartition("@")
            host = f"{netloc[0]}{netloc[1]}127.0.0.1:{proxy.port}"
            proxied = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
            async with running_worker(worker_env(proxied, generate_key())) as base:
                await ready_becomes(base, 200)
                proxy.mode = Mode.CUT
                body = await ready_becomes(base, 503)
                assert '"error": "not_ready"' in body
                proxy.mode = Mode.PASS
                await ready_becomes(base, 200)
                assert (await get(base, "/healthz"))[0] == 200
