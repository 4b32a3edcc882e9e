"""``faxpush serve`` in a subprocess with a console user and tokens, and small receivers on
127.0.0.1 whose answers a test scripts: what the browser tests of the console look at."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from faxpush.storage.cipher import generate_key

CLI = [sys.executable, "-m", "faxpush.cli"]
USER, PASSWORD = "ops", "correct horse battery staple"
ACCOUNT, ACCOUNT_SECRET = "55555TE", "push-secret-never-shown"
STARTED = re.compile(r"Console: (http://127\.0\.0\.1:\d+/admin)/")
CREATED = re.compile(r"created customer number (\S+) with login (\S+) and password (\S+)")
TIMEOUT = 10


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    content_type: str = "application/json"


@dataclass
class Receiver:
    """A push receiver on 127.0.0.1: each path answers from its script, then its default."""

    server: ThreadingHTTPServer
    default: Answer = field(default_factory=Answer)
    scripts: dict[str, deque[Answer]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts[path] = deque(answers)

    def answer(self, path: str) -> Answer:
        with self.lock:
            self.received.append(path)
            queue = self.scripts.get(path)
            return queue.popleft() if queue else self.default


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = receiver.answer(self.path)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            """Quiet: the test reads what arrived from ``received``."""

    return Handler


@contextmanager
def receiver(default: Answer | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    found = Receiver(server, default or Answer())
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Console:
    """A running ``faxpush serve``: its console, REST login and operator tokens."""

    base: str  # http://127.0.0.1:PORT/admin
    rest: str  # http://127.0.0.1:PORT/rest/v1/CUSTOMER/fax
    login: tuple[str, str]
    write_token: str
    read_token: str
    env: dict[str, str]

    def submit_job(self, push_url: str, *, reference: str | None = None) -> str:
        """Send a fax job through the REST API; its report will be pushed to ``push_url``."""
        job: dict[str, Any] = {
            "recipients": [{"number": "+12015551000"}],
            "documents": [{"name": "hello.txt", "data": "SGVsbG8sIGZheCEK"}],
            "statusReportOptions": {"httpStatusPush": {"targetUrl": push_url}},
        }
        if reference is not None:
            job["reference"] = {"customerDefinedId": reference}
        answer = requests.post(self.rest, json=job, auth=self.login, timeout=TIMEOUT)
        assert answer.status_code == 201, answer.text
        job_id: str = answer.json()["jobId"]
        return job_id

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.write_token}"}
        return requests.request(
            method, f"{self.base}/api/v1{path}", headers=headers, timeout=TIMEOUT, **kwargs
        )

    def wait_settled(self, within: float = 30) -> None:
        """Until no push is pending or being sent."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            busy = [
                self.api("GET", "/pushes", params={"state": state, "limit": 1}).json()["pushes"]
                for state in ("pending", "in_flight")
            ]
            if not any(busy):
                return
            time.sleep(0.1)
        raise AssertionError(f"pushes still pending after {within} s")


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def _wait_for_banner(process: subprocess.Popen[bytes], out: Path, within: float) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = out.read_text()
        if STARTED.search(text):
            return text
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"faxpush serve did not start: {out.read_text()}")


@contextmanager
def serve_console(folder: Path) -> Iterator[Console]:
    """``faxpush serve`` on a free port with a SQLite database in ``folder``, a console user
    (``USER``/``PASSWORD``) and a write and a read API token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env.update(
        FAXPUSH_DATABASE_URL=f"sqlite:///{folder / 'console.db'}",
        FAXPUSH_SECRET_KEY=generate_key(),
        FAXPUSH_ALLOWED_NETWORKS="127.0.0.0/8",
        FAXPUSH_POLL_INTERVAL="0.1",
        FAXPUSH_RETRY_DELAYS="0,0.3s",  # two attempts, the second 0.3 s after the first
        FAXPUSH_RETRY_JITTER="0",
        FAXPUSH_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    out = folder / "serve.out"
    with out.open("wb") as stdout, (folder / "serve.err").open("wb") as stderr:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--sim-speed", "0"],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        banner = _wait_for_banner(process, out, within=30)
        started = STARTED.search(banner)
        created = CREATED.search(banner)
        assert started is not None
        assert created is not None, banner
        customer, login, password = created.groups()
        origin = started.group(1).removesuffix("/admin")
        _cli(env, "admin", "user", "create", USER, "--password-stdin", stdin=PASSWORD + "\n")
        _cli(
            env, "accounts", "add", ACCOUNT, "--login", "second", "--password", "pw-second",
            "--push-url", "https://hooks.example.org/fax", "--push-auth", "HTTP_BASIC",
            "--push-principal", "hook", "--push-credentials", ACCOUNT_SECRET,
        )  # fmt: skip
        yield Console(
            base=started.group(1),
            rest=f"{origin}/rest/v1/{customer}/fax",
            login=(login, password),
            write_token=_cli(env, "admin", "token", "create", "browser-write", "--scope", "write"),
            read_token=_cli(env, "admin", "token", "create", "browser-read", "--scope", "read"),
            env=env,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serve_console(tmp_path_factory.mktemp("console")) as running:
        yield running
