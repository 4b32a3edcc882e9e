"""``faxpush listen`` under slow and too many clients, and over TLS, in subprocesses.

Every client here is a raw socket on 127.0.0.1, so a test controls exactly which bytes of a
request arrive and when.
"""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests
import trustme

from tests.receiver.cli import Listener, listen, run
from tests.samples import sample

XML = {"Content-Type": "text/xml; charset=UTF-8"}
HEAD_ONLY = (
    b"POST /fax/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
    b"Content-Length: 10\r\n\r\n"
)
QUICK = ("--inbox", "memory://", "--json", "--header-timeout", "1", "--body-timeout", "1")


def connect(listener: Listener) -> socket.socket:
    address = urlsplit(listener.base)
    assert address.hostname == "127.0.0.1"
    assert address.port is not None
    return socket.create_connection(("127.0.0.1", address.port), timeout=10)


def until_closed(sock: socket.socket, within: float) -> tuple[bytes, float | None]:
    """Everything the server sends, and after how many seconds it closed (None: it did
    not close within ``within`` seconds)."""
    started = time.monotonic()
    received = b""
    while (left := within - (time.monotonic() - started)) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, None


@contextmanager
def slow_clients(listener: Listener, count: int, opening: bytes) -> Iterator[list[socket.socket]]:
    """``count`` connections that each sent ``opening`` and then nothing more."""
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            sock = stack.enter_context(connect(listener))
            sock.sendall(opening)
            clients.append(sock)
        yield clients


def good_push(listener: Listener) -> requests.Response:
    return requests.post(
        listener.url("/fax/status"), data=sample("report-minimal.xml"), headers=XML, timeout=10
    )


def test_a_body_that_never_arrives_is_answered_408_within_the_body_timeout(
    tmp_path: Path,
) -> None:
    with listen(tmp_path, *QUICK) as listener, connect(listener) as sock:
        sock.sendall(HEAD_ONLY)
        answer, closed_after = until_closed(sock, within=6)
        receipts = listener.wait_for(1)
    assert closed_after is not None, "the connection was left open"
    assert closed_after < 3
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in answer.lower()
    assert receipts[0]["status"] == 408
    assert "within 1 s" in receipts[0]["reason"]


def test_headers_that_stop_arriving_are_closed_within_the_header_timeout(
    tmp_path: Path,
) -> None:
    with listen(tmp_path, *QUICK) as listener:
        with connect(listener) as half_line, connect(listener) as silent:
            half_line.sendall(b"POST /fax/status HT")
            answer, half_closed = until_closed(half_line, within=6)
            _, silent_closed = until_closed(silent, within=6)
        assert good_push(listener).status_code == 200
    assert half_closed is not None, "a half-sent request line was left open"
    assert half_closed < 3
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert silent_closed is not None, "a connection that sent nothing was left open"


def test_over_the_connection_limit_pushes_are_refused_then_accepted_once_slow_ones_time_out(
    tmp_path: Path,
) -> None:
    limits = ("--max-connections", "20", "--header-timeout", "2")
    with listen(tmp_path, "--inbox", "memory://", *limits) as listener:
        with slow_clients(listener, 40, b"POST /fax/status HTTP/1.1\r\nHo") as clients:
            time.sleep(0.3)  # let the server take them all in
            refused = good_push(listener)
            assert refused.status_code == 503, refused.text
            assert refused.headers["connection"] == "close"
            assert refused.headers["retry-after"] == "10"
            assert refused.json()["error"] == "too_many_connections"
            closed = [until_closed(sock, within=5)[1] for sock in clients]
            deadline = time.monotonic() + 5
            while (answer := good_push(listener)).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.2)
        stderr = listener.stderr.read_text()
    assert all(seconds is not None for seconds in closed), closed
    assert "connection limit" in stderr
    assert stderr.count("connection limit") <= 2, stderr  # one report per 10 s, not per refusal


def test_running_out_of_file_descriptors_is_reported_briefly_and_recovers(
    tmp_path: Path,
) -> None:
    # 64 files and no effective connection limit: accepting fails with EMFILE, which asyncio
    # reports for every attempt (thousands of tracebacks a second) unless it is throttled.
    # (uvloop closes such connections at once and reports nothing: test_event_loop.py)
    limits = ("--max-connections", "500", "--header-timeout", "2", "--inbox", "memory://")
    with listen(tmp_path, *limits, "--event-loop", "asyncio", open_files=64) as listener:
        with slow_clients(listener, 120, b"POST /fax/status HTTP/1.1\r\nHo"):
            time.sleep(1.5)
            during = listener.stderr.read_text()
        deadline = time.monotonic() + 8
        while True:
            try:
                if good_push(listener).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, listener.stderr.read_text()[-2000:]
            time.sleep(0.2)
        stderr = listener.stderr.read_text()
    assert "open-file limit" in during  # the banner warns that 500 will not fit
    assert "Too many open files" in during
    assert len(stderr) < 4000, f"{len(stderr)} bytes on stderr"
    assert stderr.count("Too many open files") <= 2
    assert "Traceback" not in stderr


def test_listen_serves_https_with_a_certificate_and_key(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    with listen(tmp_path, "--inbox", "memory://", "--json", *tls) as listener:
        assert listener.base.startswith("https://")
        answer = requests.post(
            listener.url("/fax/status"),
            data=sample("report-minimal.xml"),
            headers=XML,
            verify=str(ca),
            timeout=10,
        )
        status, text = answer.status_code, answer.text
        openapi = requests.get(listener.url("/openapi.json"), verify=str(ca), timeout=10).json()
        (receipt,) = listener.wait_for(1)
        # requests leaves its TLS socket to the garbage collector; until then the server's
        # graceful shutdown waits for the client's close_notify (5 s).
        del answer
        gc.collect()
    assert status == 200, text
    assert receipt["outcome"] == "stored"
    assert openapi["servers"][0]["url"] == listener.base
    assert listener.exit_code == 0
    assert "Traceback" not in listener.stderr.read_text()


def test_listen_refuses_a_certificate_it_cannot_load(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    done = run(
        "listen", "--port", "0", "--inbox", "memory://", "--tls-cert", str(tmp_path / "cert.pem")
    )
    assert done.returncode == 2
    assert "--tls-cert" in done.stderr
    only_key = run("listen", "--port", "0", "--inbox", "memory://", "--tls-key", "key.pem")
    assert only_key.returncode == 2
    assert "--tls-key goes with --tls-cert" in only_key.stderr


def test_a_body_trickling_in_after_the_answer_is_cut_off(tmp_path: Path) -> None:
    # The 404 is answered before the body; the body then arrives a byte at a time, which
    # kept cancelling uvicorn's keep-alive timer: the connection was held for good.
    with listen(tmp_path, *QUICK, "--path", "/hook") as listener, connect(listener) as sock:
        sock.sendall(b"POST /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
        started = time.monotonic()
        answer = b""
        closed_after = None
        for _ in range(30):  # 30 bytes over 6 s, against a 1 s body timeout
            sock.settimeout(0.2)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            except ConnectionResetError:
                chunk = b""
            if chunk == b"":
                closed_after = time.monotonic() - started
                break
            answer += chunk or b""
            try:
                sock.sendall(b"x")
            except OSError:
                closed_after = time.monotonic() - started
                break
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert closed_after is not None, "the trickling connection was left open"
    assert closed_after < 4
