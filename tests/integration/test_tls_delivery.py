"""HTTPS end to end: the worker's dispatcher with FAXPUSH_CA_BUNDLE, an account's TLS
material from ``faxpush accounts`` to a mutual-TLS delivery, and ``faxpush check-endpoint``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from faxpush.cli import accounts
from faxpush.cli import push as push_cli
from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import parse_report
from faxpush.core.targets import PushTarget
from faxpush.delivery.checker import EndpointChecker, all_passed
from faxpush.delivery.tls import TlsMaterialError
from faxpush.emulator.pushes import build_push
from faxpush.storage.base import NewPush, PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_base import JobRecord, JobState
from faxpush.storage.sqlite import SqliteStore
from tests.samples import MINIMAL_REPORT_MODEL

from .test_dispatcher import all_final, running, settings, wait_until
from .tls_servers import EXPIRED, Pki, serve_tls

SECRET_KEY = generate_key()
LOOPBACK = (ip_network("127.0.0.0/8"),)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([SECRET_KEY]))
    await opened.migrate()
    yield opened
    await opened.close()


def new_push(delivery_id: str, target: PushTarget) -> NewPush:
    return NewPush(
        delivery_id=delivery_id,
        job_id=f"FJ{delivery_id}",
        target=target,
        content_type="text/xml; charset=UTF-8",
        body=b"<faxJobReport/>",
    )


async def test_worker_fails_an_expired_certificate_once_and_for_good(
    pki: Pki, store: SqliteStore, tmp_path: Path
) -> None:
    config = settings(ca_bundle=str(pki.ca_file(tmp_path)))
    async with (
        serve_tls(pki.server_context(not_after=EXPIRED)) as expired,
        serve_tls(pki.server_context()) as valid,
    ):
        await store.enqueue(new_push("expired", PushTarget(expired.url())), now=datetime.now(UTC))
        await store.enqueue(new_push("valid", PushTarget(valid.url())), now=datetime.now(UTC))
        async with running(store, config):
            await wait_until(lambda: all_final(store))
    failed = await store.get_push("expired")
    assert failed is not None
    assert (failed.state, failed.attempts) == (PushState.FAILED, 1)  # three were allowed
    assert failed.last_error is not None
    assert "127.0.0.1" in failed.last_error
    assert "expired" in failed.last_error
    (attempt,) = await store.list_attempts("expired")
    assert attempt.error_class == "tls"
    delivered = await store.get_push("valid")
    assert delivered is not None
    assert delivered.state is PushState.DELIVERED
    assert valid.bodies == [b"<faxJobReport/>"]


def read_database(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.glob("faxpush.db*"))


def write_pem(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="ascii")
    return str(path)


async def test_account_client_certificate_from_the_cli_to_mutual_tls(
    pki: Pki, tmp_path: Path
) -> None:
    database = tmp_path / "faxpush.db"
    cert, key = pki.client_pem("customer-4711@faxpush.test")
    key_body = key.splitlines()[1]
    context = pki.server_context(client_cert_required=True)
    async with serve_tls(context) as receiver:
        result = await asyncio.to_thread(  # the command runs its own event loop
            CliRunner().invoke,
            accounts.app,
            [
                "add", "4711", "--login", "alice", "--password", "Alice-pw-1",
                "--push-url", receiver.url("/hook"),
                "--ca-file", write_pem(tmp_path, "ca.pem", pki.ca_pem()),
                "--client-cert", write_pem(tmp_path, "client.pem", cert),
                "--client-key", write_pem(tmp_path, "client.key", key),
                "--database-url", f"sqlite:///{database}",
            ],
            env={"FAXPUSH_SECRET_KEY": SECRET_KEY},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        stored = read_database(tmp_path)
        assert key_body.encode() not in stored  # sealed at rest

        store = await SqliteStore.open(database, SecretCipher([SECRET_KEY]))
        try:
            account = await store.get_account("4711")
            assert account is not None
            assert key_body not in repr(account)
            job = JobRecord(
                job_id="FJ-4711",
                customer_number="4711",
                login="alice",
                state=JobState.FINISHED,
                plan="{}",
                finish_at=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
            push = build_push(job, MINIMAL_REPORT_MODEL, account)
            assert push is not None
            await store.enqueue(push, now=datetime.now(UTC))
            async with running(store, settings()):
                await wait_until(lambda: all_final(store))
            delivered = await store.get_push("FJ-4711")
        finally:
            await store.close()
    assert delivered is not None
    assert delivered.state is PushState.DELIVERED, delivered.last_error
    (peer,) = receiver.peer_certs
    assert "customer-4711@faxpush.test" in json.dumps(peer)


# --- check-endpoint ---------------------------------------------------------------------------


async def conforming(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if len(body) > 1024 * 1024:
        return web.Response(status=413)
    try:
        parse_report(body)
    except ReportFormatError:
        return web.Response(status=400)
    return web.Response(status=200)


async def check_endpoint(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faxpush.cli", "check-endpoint", *args,
        "--allow-network", "127.0.0.0/8", "--timeout", "5", "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")},
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return await process.wait(), output.decode()


async def test_check_endpoint_speaks_https_with_a_client_certificate(
    pki: Pki, tmp_path: Path
) -> None:
    cert, key = pki.client_pem()
    context = pki.server_context(client_cert_required=True)
    files: dict[str, Any] = {
        "--ca-file": write_pem(tmp_path, "ca.pem", pki.ca_pem()),
        "--client-cert": write_pem(tmp_path, "client.pem", cert),
        "--client-key": write_pem(tmp_path, "client.key", key),
    }
    async with serve_tls(context, conforming) as receiver:
        code, output = await check_endpoint(
            receiver.url("/hook"), *(part for pair in files.items() for part in pair)
        )
        assert code == 0, output
        assert all(check["passed"] is not False for check in json.loads(output))
        untrusted = await EndpointChecker(
            receiver.url("/hook"), timeout=5, allowed_networks=LOOPBACK
        ).run()
    assert not all_passed(untrusted)
    details = {check.detail for check in untrusted[:4]}
    assert len(details) == 1
    (detail,) = details
    assert "127.0.0.1" in detail
    assert "unknown CA" in detail


def test_accounts_cli_checks_and_lists_the_tls_material(pki: Pki, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'faxpush.db'}"
    cert, key = pki.client_pem()
    _other, other_key = pki.client_pem("someone-else@example.org")
    runner = CliRunner()
    env = {"FAXPUSH_SECRET_KEY": SECRET_KEY}

    def run(*args: str) -> Any:
        return runner.invoke(accounts.app, [*args, "--database-url", database], env=env)

    base = ("add", "4711", "--login", "alice", "--password", "Alice-pw-1")
    lonely = run(*base, "--client-cert", write_pem(tmp_path, "client.pem", cert))
    assert isinstance(lonely.exception, TlsMaterialError)
    assert "--client-key" in str(lonely.exception)
    mismatched = run(
        *base,
        "--client-cert", write_pem(tmp_path, "client.pem", cert),
        "--client-key", write_pem(tmp_path, "other.key", other_key),
    )  # fmt: skip
    assert isinstance(mismatched.exception, TlsMaterialError)
    not_pem = run(*base, "--ca-file", write_pem(tmp_path, "ca.txt", "not a certificate"))
    assert isinstance(not_pem.exception, TlsMaterialError)
    assert run(*base, "--ca-file", write_pem(tmp_path, "ca.pem", pki.ca_pem())).exit_code == 0
    added = run(
        "set", "4711",
        "--client-cert", write_pem(tmp_path, "client.pem", cert),
        "--client-key", write_pem(tmp_path, "client.key", key),
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "tls=ca+client-cert" in run("list").output
    removed = run("set", "4711", "--ca-file", "", "--client-cert", "", "--client-key", "")
    assert removed.exit_code == 0, removed.output
    assert "tls=" not in run("list").output


async def test_push_send_trusts_the_ca_bundle_and_fails_an_expired_certificate_once(
    pki: Pki, tmp_path: Path
) -> None:
    bundle = str(pki.ca_file(tmp_path))
    report = str(Path(__file__).parents[1] / "data" / "spec_samples" / "report-minimal.xml")
    env = {
        "FAXPUSH_SECRET_KEY": SECRET_KEY,
        "FAXPUSH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "FAXPUSH_DATABASE_URL": f"sqlite:///{tmp_path / 'outbox.db'}",
        "FAXPUSH_SQLITE_STORE_PROCESS": "false",  # no process to start: a faster test
    }

    def send(url: str) -> Any:
        args = [url, report, "--ca-bundle", bundle, "--attempts", "3", "--interval", "0"]
        return CliRunner().invoke(push_cli.app, args, env=env)

    async with (
        serve_tls(pki.server_context()) as valid,
        serve_tls(pki.server_context(not_after=EXPIRED)) as expired,
    ):
        delivered = await asyncio.to_thread(send, valid.url("/fax"))  # runs its own loop
        failed = await asyncio.to_thread(send, expired.url("/fax"))
    assert delivered.exit_code == 0, delivered.output
    assert "delivered after 1 attempt(s)" in delivered.output
    assert failed.exit_code == 1
    assert "failed after 1 attempt(s)" in failed.output
    assert "tls: TLS certificate of 127.0.0.1 not accepted: certificate has expired" in (
        failed.output
    )
