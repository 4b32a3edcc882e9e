"""The receiver over real HTTP on 127.0.0.1: independent digest clients (curl, requests),
replays and stale nonces, idempotency, restarts and an oversized Content-Length."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

from faxpush.core.digest import parse_auth_header
from faxpush.receiver import (
    DigestUser,
    DigestVerifier,
    InboxEntry,
    PushReceiver,
    Receipt,
    create_app,
)
from faxpush.receiver.handlers import Handler
from faxpush.receiver.verify import Verifier
from tests.receiver.serving import Served, serving
from tests.samples import sample

XML_TYPE = "text/xml; charset=UTF-8"


@contextmanager
def receiver_server(
    verifier: Verifier | None = None,
    inbox: str = "memory://",
    handlers: Sequence[Handler] = (),
) -> Iterator[tuple[Served, list[Receipt]]]:
    receipts: list[Receipt] = []
    receiver = PushReceiver(
        verifier=verifier,
        inbox=inbox,
        handlers=handlers,
        on_receipt=[receipts.append],
    )
    with serving(create_app(receiver)) as server:
        yield server, receipts


def md5_verifier(clock: Callable[[], float] = time.time) -> DigestVerifier:
    user = DigestUser.from_password("alice", "s3cret", algorithms=["MD5"])
    return DigestVerifier([user], algorithms=["MD5"], clock=clock)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("algorithms", [("MD5",), ("SHA-256", "MD5")])
def test_curl_digest(tmp_path: Path, algorithms: tuple[str, ...]) -> None:
    user = DigestUser.from_password("alice", "s3cret", algorithms=algorithms)
    body = tmp_path / "report.xml"
    body.write_bytes(sample("report-full.xml"))
    with receiver_server(DigestVerifier([user], algorithms=algorithms)) as (server, receipts):

        def curl(password: str) -> str:
            done = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                    "--digest",
                    "-u",
                    f"alice:{password}",
                    "-H",
                    f"Content-Type: {XML_TYPE}",
                    "--data-binary",
                    f"@{body}",
                    server.url("/fax/status?account=7"),
                ],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            return done.stdout

        assert curl("s3cret") == "200"
        assert curl("wrong") == "401"
    stored = [r for r in receipts if r.outcome == "stored"]
    assert len(stored) == 1
    assert stored[0].auth is not None
    assert stored[0].auth.describe() == "HTTP_DIGEST as alice"
    assert stored[0].target == "/fax/status?account=7"


def test_requests_digest_md5_and_replay() -> None:
    with receiver_server(md5_verifier()) as (server, receipts):
        session = requests.Session()
        session.auth = HTTPDigestAuth("alice", "s3cret")
        url = server.url("/hook")
        for _ in range(3):  # nonce reused with nc 1, 2, 3...
            answer = session.post(
                url, data=sample("report-full.xml"), headers={"Content-Type": XML_TYPE}, timeout=10
            )
            assert answer.status_code == 200
        sent = answer.request.headers["Authorization"]
        assert 'algorithm="MD5"' in sent or "algorithm=MD5" in sent
        # The same Authorization header again is a replay of that nonce count.
        replay = requests.post(
            url,
            data=sample("report-full.xml"),
            headers={"Content-Type": XML_TYPE, "Authorization": sent},
            timeout=10,
        )
        assert replay.status_code == 401
        challenge = parse_auth_header([replay.headers["WWW-Authenticate"]])[0]
        assert challenge.params["stale"] == "true"
        wrong = requests.post(
            url,
            data=b"<x/>",
            headers={"Content-Type": XML_TYPE},
            auth=HTTPDigestAuth("alice", "nope"),
            timeout=10,
        )
        assert wrong.status_code == 401
    reasons = [r.reason for r in receipts if r.status == 401]
    assert "nonce count replayed or not increasing" in reasons
    assert "credentials rejected" in reasons


def test_requests_digest_recovers_from_a_stale_nonce() -> None:
    now = [time.time()]
    with receiver_server(md5_verifier(clock=lambda: now[0])) as (server, receipts):
        session = requests.Session()
        session.auth = HTTPDigestAuth("alice", "s3cret")
        first = session.post(
            server.url("/"),
            data=sample("report-full.xml"),
            headers={"Content-Type": XML_TYPE},
            timeout=10,
        )
        assert first.status_code == 200
        now[0] += 3600  # every nonce issued so far is stale now
        second = session.post(
            server.url("/"),
            data=sample("report-minimal.xml"),
            headers={"Content-Type": XML_TYPE},
            timeout=10,
        )
        assert second.status_code == 200
    assert [r.reason for r in receipts if r.status == 401][-1] == "nonce expired"


def test_same_push_three_times_concurrently_and_in_a_row_runs_the_handler_once() -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def handler(entry: InboxEntry) -> None:
        with lock:
            calls.append(entry.key)

    with receiver_server(handlers=[handler]) as (server, receipts):

        def post() -> requests.Response:
            return requests.post(
                server.url("/"),
                data=sample("report-full.xml"),
                headers={"Content-Type": XML_TYPE},
                timeout=10,
            )

        threads = [threading.Thread(target=post) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        answers = [post() for _ in range(3)]
        assert {a.status_code for a in answers} == {200}
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
    assert len(calls) == 1
    assert sorted(r.outcome for r in receipts) == ["duplicate"] * 5 + ["stored"]


def test_the_inbox_survives_a_restart(tmp_path: Path) -> None:
    inbox = f"sqlite:///{tmp_path / 'inbox.db'}"
    headers = {"Content-Type": XML_TYPE, "Faxpush-Delivery-Id": "restart-1"}
    with receiver_server(inbox=inbox) as (server, _):
        first = requests.post(
            server.url("/"), data=sample("report-full.xml"), headers=headers, timeout=10
        )
    with receiver_server(inbox=inbox) as (server, receipts):
        again = requests.post(
            server.url("/"), data=sample("report-full.xml"), headers=headers, timeout=10
        )
    assert first.json()["status"] == "stored"
    assert again.json()["status"] == "duplicate"
    assert receipts[0].times_received == 2


def test_a_100_mib_content_length_is_413_without_reading_the_body() -> None:
    with (
        receiver_server() as (server, receipts),
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        head = (
            "POST /fax HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {XML_TYPE}\r\nContent-Length: {100 * 2**20}\r\n\r\n"
        )
        started = time.perf_counter()
        sock.sendall(head.encode() + b"<faxJobReport>")  # and nothing more of the 100 MiB
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        elapsed = time.perf_counter() - started
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert elapsed < 2
    assert receipts[0].status == 413
