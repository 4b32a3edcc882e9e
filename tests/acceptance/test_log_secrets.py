"""No secret in any log line: a real run with every auth method, JSON logs at DEBUG.

A ``faxpush worker`` process delivers pushes with NONE, HTTP_BASIC, HTTP_DIGEST and OAUTH2
(client credentials, real token endpoints), right and wrong credentials, to in-process
receivers that record every request (so every Authorization header and every issued token
is known) and to ``faxpush listen`` processes (one per auth method, the OAuth2 one with its
own token issuer). Then every line on the stderr of every process is read: each is one JSON
object, the attempt lines carry their fields, and none holds a password, client secret,
access token, Authorization header value or the secret key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import generate_key
from faxpush.storage.factory import open_configured_store
from tests.acceptance.test_cli_delivery import REPORT, cli_env
from tests.integration.servers import (
    DigestServer,
    LocalServer,
    OAuthServer,
    always_ok,
    basic_protected,
    serve,
)

CLI = [sys.executable, "-m", "faxpush.cli"]
USER = "hook-user"
CLIENT = "client-1"
# Each secret is used once, so that a hit names the place it leaked from.
BASIC_PW = "basic-pw-Zq81xv"
DIGEST_PW = "digest-pw-Ww55nr"
CLIENT_SECRET = "client-secret-Hh72vb"
WRONG_PW = "wrong-pw-Yy40ek"
WRONG_SECRET = "wrong-secret-Tt93km"
URL_PW = "url-pw-Gg27sd"
LISTEN_BASIC_PW = "listen-basic-pw-Kd02qp"
LISTEN_DIGEST_PW = "listen-digest-pw-Pq11jz"
LISTEN_CLIENT_SECRET = "listen-client-secret-Mm38fw"
BANNER = re.compile(r"receiving pushes on (http://[0-9.:]+)")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}")  # any JSON web token (the listen issuer's tokens)
ATTEMPT_FIELDS = {
    "delivery_id",
    "job_id",
    "url",
    "attempt",
    "http_status",
    "error_class",
    "error_message",
    "duration_ms",
    "verdict",
    "next_attempt_at",
    "auth_method",
}


@dataclass
class Process:
    name: str
    proc: asyncio.subprocess.Process
    err_lines: list[str] = field(default_factory=list)
    out: str = ""
    stopped: bool = False

    async def read_until(self, pattern: re.Pattern[str], within: float) -> re.Match[str]:
        """Read stderr lines until one matches ``pattern`` (for ``within`` seconds at most)."""

        async def scan() -> re.Match[str]:
            assert self.proc.stderr is not None
            while line := (await self.proc.stderr.readline()).decode():
                self.err_lines.append(line)
                found = pattern.search(line)
                if found:
                    return found
            raise AssertionError(f"{self.name} ended early:\n{''.join(self.err_lines)}")

        return await asyncio.wait_for(scan(), within)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(self.proc.communicate(), 30)
        self.out = out.decode()
        self.err_lines.extend(err.decode().splitlines(keepends=True))


async def start(name: str, env: dict[str, str], *args: str) -> Process:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    return Process(name, proc)


async def start_listen(env: dict[str, str], auth: AuthMethod, *extra: str) -> Process:
    """A ``faxpush listen`` process on a free port, with JSON logs."""
    return await start(
        f"listen {auth.value}", env, "listen", "--port", "0", "--auth", auth.value,
        "--inbox", "memory://", "--log-format", "json", *extra,
    )  # fmt: skip


def target(url: str, method: AuthMethod, secret: str | None = None, **more: Any) -> PushTarget:
    principal = None if method is AuthMethod.NONE else more.pop("principal", USER)
    credentials = None if secret is None else Secret(secret)
    return PushTarget(url, method, principal, credentials, **more)


async def enqueue(settings: Settings, targets: dict[str, tuple[PushTarget, int | None]]) -> None:
    body = REPORT.read_bytes()
    store = await open_configured_store(settings, notify=lambda _: None)
    try:
        for delivery_id, (push_target, max_attempts) in targets.items():
            push = NewPush(
                delivery_id,
                "job-" + delivery_id,
                push_target,
                "application/xml",
                body,
                max_attempts=max_attempts,
            )
            await store.enqueue(push, now=datetime.now(UTC))
    finally:
        await store.close()


def recorded_secrets(servers: list[LocalServer], oauth: OAuthServer) -> set[str]:
    """Every Authorization header value the in-process servers saw, also without its scheme,
    and every token issued."""
    headers = {r.headers.get("Authorization", "") for s in servers for r in s.requests}
    credentials = {value.partition(" ")[2] for value in headers}
    return {v for v in headers | credentials | set(oauth.issued) if len(v) >= 8}


async def test_no_secret_in_any_log_line(tmp_path: Path) -> None:
    key = generate_key()
    env = cli_env(tmp_path) | {
        "FAXPUSH_SECRET_KEY": key,
        "FAXPUSH_LOG_FORMAT": "json",
        "FAXPUSH_LOG_LEVEL": "DEBUG",
        "FAXPUSH_RETRY_DELAYS": "0.2",
    }
    settings = Settings.from_env(env)
    oauth = OAuthServer(CLIENT, CLIENT_SECRET)
    async with AsyncExitStack() as stack:
        plain = await stack.enter_async_context(serve(always_ok))
        basic = await stack.enter_async_context(serve(basic_protected(USER, BASIC_PW)))
        digest = await stack.enter_async_context(serve(DigestServer(USER, DIGEST_PW)))
        oauth_server = await stack.enter_async_context(serve(oauth))
        oauth2_client = ("--principal", CLIENT, "--credentials", LISTEN_CLIENT_SECRET)
        listeners = [
            await start_listen(env, AuthMethod.NONE),
            await start_listen(
                env, AuthMethod.HTTP_BASIC, "--principal", USER, "--credentials", LISTEN_BASIC_PW
            ),
            await start_listen(
                env, AuthMethod.HTTP_DIGEST, "--principal", USER, "--credentials", LISTEN_DIGEST_PW
            ),
            await start_listen(env, AuthMethod.OAUTH2, "--oauth2-issuer", *oauth2_client),
        ]
        for listen in listeners:
            stack.push_async_callback(listen.stop)
        banners = await asyncio.gather(*(listen.read_until(BANNER, 30) for listen in listeners))
        l_none, l_basic, l_digest, l_oauth = (banner[1] for banner in banners)
        token_url = oauth_server.url("/token")
        userinfo_url = plain.url("/x").replace("http://", f"http://{USER}:{URL_PW}@")
        pushes: dict[str, tuple[PushTarget, int | None]] = {
            "none": (target(plain.url("/x"), AuthMethod.NONE), None),
            "basic": (target(basic.url("/x"), AuthMethod.HTTP_BASIC, BASIC_PW), None),
            "digest": (target(digest.url("/x"), AuthMethod.HTTP_DIGEST, DIGEST_PW), None),
            "oauth2": (
                target(
                    oauth_server.url("/fax"),
                    AuthMethod.OAUTH2,
                    CLIENT_SECRET,
                    principal=CLIENT,
                    token_url=token_url,
                ),
                None,
            ),
            "basic-wrong": (target(basic.url("/x"), AuthMethod.HTTP_BASIC, WRONG_PW), 1),
            "oauth2-wrong": (
                target(
                    oauth_server.url("/fax"),
                    AuthMethod.OAUTH2,
                    WRONG_SECRET,
                    principal=CLIENT,
                    token_url=token_url,
                ),
                1,
            ),
            "userinfo-url": (target(userinfo_url, AuthMethod.NONE), 1),
            "listen-none": (target(l_none + "/fax", AuthMethod.NONE), None),
            "listen-basic": (
                target(l_basic + "/fax", AuthMethod.HTTP_BASIC, LISTEN_BASIC_PW),
                None,
            ),
            "listen-digest": (
                target(l_digest + "/fax", AuthMethod.HTTP_DIGEST, LISTEN_DIGEST_PW),
                None,
            ),
            "listen-oauth2": (
                target(
                    l_oauth + "/fax",
                    AuthMethod.OAUTH2,
                    LISTEN_CLIENT_SECRET,
                    principal=CLIENT,
                    token_url=l_oauth + "/oauth2/token",
                ),
                None,
            ),
        }
        await enqueue(settings, pushes)
        worker = await start("worker", env, "worker")
        final: dict[str, str] = {}
        try:
            while len(final) < len(pushes):
                found = await worker.read_until(re.compile(r'"verdict":"(delivered|failed)"'), 60)
                line = json.loads(worker.err_lines[-1])
                final[line["delivery_id"]] = found[1]
        finally:
            await worker.stop()
        everyone = [worker, *listeners]
        for listen in listeners:
            await listen.stop()  # idempotent: the stack's exit finds them stopped
        secrets = recorded_secrets([plain, basic, digest, oauth_server], oauth)

    assert worker.proc.returncode == 0, "".join(worker.err_lines)
    assert final == {
        **dict.fromkeys(pushes, "delivered"),
        "basic-wrong": "failed",
        "oauth2-wrong": "failed",
        "userinfo-url": "failed",
    }
    # the auth really happened: headers were sent and tokens issued
    assert any(s.startswith("Digest ") for s in secrets)
    assert any(s.startswith("Bearer ") for s in secrets)
    assert oauth.issued
    secrets |= {
        BASIC_PW, DIGEST_PW, CLIENT_SECRET, WRONG_PW, WRONG_SECRET, URL_PW, LISTEN_BASIC_PW,
        LISTEN_DIGEST_PW, LISTEN_CLIENT_SECRET, key,
        base64.b64encode(f"{USER}:{LISTEN_BASIC_PW}".encode()).decode(),
        base64.b64encode(f"{CLIENT}:{LISTEN_CLIENT_SECRET}".encode()).decode(),
    }  # fmt: skip

    attempts = 0
    for process in everyone:
        assert process.err_lines, process.name
        for line in process.err_lines:
            record = json.loads(line)  # every line is one JSON object
            assert record.keys() >= {"time", "level", "logger", "message"}, line
            leaked = [s for s in secrets if s in line] + JWT.findall(line)
            assert not leaked, f"{process.name} logged {leaked}: {line}"
            if "verdict" in record:
                attempts += 1
                assert record.keys() >= ATTEMPT_FIELDS, line
        for secret in secrets:  # the listeners' receipts on stdout too
            assert secret not in process.out, f"{process.name} printed a secret on stdout"
    assert attempts >= len(pushes)
    lines = [json.loads(line) for line in worker.err_lines]
    by_method = {r["auth_method"] for r in lines if "verdict" in r}
    assert by_method == {"NONE", "HTTP_BASIC", "HTTP_DIGEST", "OAUTH2"}
