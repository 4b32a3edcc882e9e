"""``--json`` of the listing and showing commands, read back from a SQLite outbox filled
through the real store API: one parseable document each, the operator API's shapes where
it shows the same thing, and never a credential."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from faxpush.cli.main import app
from faxpush.core.models import AuthMethod
from faxpush.core.outcome import Verdict
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.targets import Account, PushTarget
from faxpush.emulator.accounts import save_login
from faxpush.storage.base import AttemptRecord, AttemptResult, NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_factory import open_jobs
from faxpush.storage.sqlite import SqliteStore
from tests.acceptance.test_cli_delivery import REPORT, cli_env, faxpush
from tests.admin.harness import running_admin
from tests.integration.servers import serve

KEY = generate_key()
PASSWORD = "pa55-Wörd-json-7f3a"  # distinctive, so every output can be searched for it
URL = "https://hooks.example.test/fax"
RECEIVER = "https://hooks.example.test:443"
LEASE = timedelta(seconds=30)


def _push(delivery_id: str) -> NewPush:
    return NewPush(
        delivery_id=delivery_id,
        job_id=f"job-{delivery_id}",
        target=PushTarget(
            url=URL,
            auth_method=AuthMethod.HTTP_BASIC,
            principal="hook",
            credentials=Secret(PASSWORD),
        ),
        content_type="application/xml",
        body=b"<faxJobReport/>",
        customer_number="99999TE",
        max_attempts=3,
    )


async def _attempt(
    store: SqliteStore, now: datetime, status: int, verdict: Verdict, **result: Any
) -> None:
    """Claim the one due push and record an attempt answered ``status``."""
    (claim,) = await store.claim(worker_id="w1", limit=10, lease=LEASE, now=now)
    delivery_id = claim.push.delivery_id
    record = AttemptRecord(
        delivery_id=delivery_id,
        number=claim.push.attempts + 1,
        started_at=now,
        duration_ms=12.5,
        http_status=status,
        error_class=None if status < 300 else "http_status",
        error_message=None if status < 300 else f"HTTP {status}",
        response_headers={"Content-Type": "text/plain"},
        response_body=b"answer",
        auth_steps=("basic",),
    )
    await store.finish(
        [AttemptResult(delivery_id, claim.claim_id, record, verdict, **result)], now=now
    )


async def fill_outbox(database: Path) -> datetime:
    """An account with a login; d-ok delivered at its second attempt, d-failed failed at its
    first (so the receiver's last attempt failed), d-pending never tried. Returns the time
    the last of them was queued."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    store = await SqliteStore.open(database, SecretCipher([KEY]))
    try:
        await store.migrate()
        jobs = await open_jobs(store)
        account = Account(
            "99999TE",
            push_url=URL,
            push_auth=AuthMethod.HTTP_BASIC,
            push_principal="hook",
            push_credentials=Secret(PASSWORD),
        )
        await store.put_account(account)
        await save_login(jobs, "alice", "99999TE", now=start, password=PASSWORD)
        await store.enqueue(_push("d-ok"), now=start)
        retry_at = start + timedelta(seconds=1)
        await _attempt(store, start, 503, Verdict.RETRY, next_attempt_at=retry_at, error="503")
        await _attempt(store, retry_at, 200, Verdict.DELIVERED)
        failed_at = start + timedelta(seconds=2)
        await store.enqueue(_push("d-failed"), now=failed_at)
        await _attempt(store, failed_at, 500, Verdict.FAILED, error="HTTP 500")
        queued_at = start + timedelta(seconds=3)
        await store.enqueue(_push("d-pending"), now=queued_at)
        return queued_at
    finally:
        await store.close()


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "outbox.db"
    asyncio.run(fill_outbox(database))
    for name in [name for name in os.environ if name.startswith("FAXPUSH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FAXPUSH_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("FAXPUSH_SECRET_KEY", KEY)
    return database


def cli_json(*args: str) -> Any:
    """Run a command in process with --json; its stdout parsed (it must be one document)."""
    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output
    return json.loads(done.stdout)


def test_pushes_list_json(outbox: Path) -> None:
    listed = cli_json("pushes", "list")
    assert [p["deliveryId"] for p in listed["pushes"]] == ["d-pending", "d-failed", "d-ok"]
    assert listed["counts"] == {
        "pending": 1,
        "in_flight": 0,
        "delivered": 1,
        "failed": 1,
        "cancelled": 0,
    }
    ok = listed["pushes"][2]
    assert ok["state"] == "delivered"
    assert ok["attempts"] == 2
    assert ok["receiver"] == RECEIVER
    assert ok["target"] == {
        "url": URL,
        "authMethod": "HTTP_BASIC",
        "principal": "hook",
        "hasCredentials": True,
    }
    assert ok["location"] == "/api/v1/pushes/d-ok"
    assert "body" not in ok
    assert listed["pushes"][1]["lastError"] == "HTTP 500"

    failed = cli_json("pushes", "list", "--state", "failed")
    assert [p["deliveryId"] for p in failed["pushes"]] == ["d-failed"]


def test_pushes_show_json(outbox: Path) -> None:
    shown = cli_json("pushes", "show", "d-ok")
    assert shown["deliveryId"] == "d-ok"
    assert shown["body"] == "<faxJobReport/>"
    assert [a["httpStatus"] for a in shown["attemptList"]] == [503, 200]
    first = shown["attemptList"][0]
    assert first["number"] == 1
    assert first["errorClass"] == "http_status"
    assert first["responseBody"] == "answer"
    assert first["authSteps"] == ["basic"]
    assert first["startedAt"].endswith("Z")


def test_receivers_list_text_and_json(outbox: Path) -> None:
    (row,) = cli_json("receivers", "list")["receivers"]
    assert row["receiver"] == RECEIVER
    assert row["lastHour"]["attempts"] == 3
    assert row["lastHour"]["successes"] == 1
    assert row["lastDay"]["successRate"] == pytest.approx(1 / 3, abs=1e-3)
    assert row["pending"] == 1
    assert row["consecutiveFailures"] == 1
    assert 0 < row["oldestPendingAgeSeconds"] < 3600

    text = CliRunner().invoke(app, ["receivers", "list"])
    assert text.exit_code == 0, text.output
    header, line = text.stdout.splitlines()
    assert header.split()[0] == "receiver"
    assert header.rstrip().endswith("last error")
    assert line.split()[:3] == [RECEIVER, "3", "33%"]
    assert line.rstrip().endswith("HTTP 500")


def test_accounts_list_and_show_json(outbox: Path) -> None:
    (account,) = cli_json("accounts", "list")["accounts"]
    assert account["customerNumber"] == "99999TE"
    assert account["pushUrl"] == URL
    assert account["pushAuth"] == "HTTP_BASIC"
    assert account["pushPrincipal"] == "hook"
    assert account["hasPushCredentials"] is True
    assert account["tls"] == {
        "hasCaCertificates": False,
        "hasClientCertificate": False,
        "hasClientKey": False,
    }
    assert [entry["login"] for entry in account["logins"]] == ["alice"]
    assert cli_json("accounts", "show", "99999TE") == account

    missing = CliRunner().invoke(app, ["accounts", "show", "00000XX", "--json"])
    assert missing.exit_code != 0
    assert missing.stdout == ""


async def test_json_through_the_cli_matches_the_operator_api(tmp_path: Path) -> None:
    """The same push and receivers as `GET /api/v1/...` shows them, from the real `faxpush`
    process; and `push send --json` prints the push it delivered (attempts on stderr)."""
    database = tmp_path / "outbox.db"
    await fill_outbox(database)
    env = cli_env(tmp_path) | {"FAXPUSH_SECRET_KEY": KEY}
    settings = Settings(
        database_url=f"sqlite:///{database}", secret_key=Secret(KEY), admin_listen="127.0.0.1:0"
    )
    async with running_admin(settings) as api:
        code, out, err = await faxpush(env, "pushes", "show", "d-ok", "--json")
        assert code == 0, err
        status, expected, _ = await api.call("GET", "/api/v1/pushes/d-ok")
        assert status == 200
        assert json.loads(out) == expected

        code, out, err = await faxpush(env, "receivers", "list", "--json")
        assert code == 0, err
        status, expected, _ = await api.call("GET", "/api/v1/receivers")
        assert status == 200
        for document in (shown := json.loads(out), expected):
            for row in document["receivers"]:
                assert row.pop("oldestPendingAgeSeconds") > 0
        assert shown == expected

    async def accept(_request: web.Request) -> web.Response:
        return web.Response(text="thanks")

    async with serve(accept) as receiver:
        code, out, err = await faxpush(
            env, "push", "send", "--json", "--auth", "HTTP_BASIC", "--principal", "hook",
            "--credentials", PASSWORD, receiver.url("/hook"), str(REPORT),
        )  # fmt: skip
    assert code == 0, err
    assert "attempt 1: HTTP 200" in err
    assert PASSWORD not in out + err
    sent = json.loads(out)
    assert sent["state"] == "delivered"
    assert sent["target"]["hasCredentials"] is True
    assert [a["responseBody"] for a in sent["attemptList"]] == ["thanks"]
    assert sent["body"].startswith("<?xml")
