"""``faxpush push send``, ``pushes``, ``worker``, ``secret-key`` and ``secrets rotate`` driven
through the real console script, against receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from aiohttp import web

from faxpush.storage.cipher import SecretCipher
from tests.integration.servers import DigestServer, basic_protected, serve

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "tests" / "data" / "spec_samples" / "report-full.xml"
CLI = [sys.executable, "-m", "faxpush.cli"]


def cli_env(tmp_path: Path, *, allow: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'outbox.db'}"
    if allow:
        env["FAXPUSH_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    return env


async def faxpush(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _ok(_request: web.Request) -> web.Response:
    return web.Response()


async def test_push_send_delivers_the_rendered_body(tmp_path: Path) -> None:
    async with serve(_ok) as receiver:
        code, out, err = await faxpush(
            cli_env(tmp_path), "push", "send", "--format", "json", receiver.url("/h"), str(REPORT)
        )
    assert code == 0, err
    assert "attempt 1: HTTP 200" in out
    assert "delivered after 1 attempt(s)" in out
    (request,) = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    expected = (REPO / "tests" / "data" / "spec_samples" / "report-full.json").read_bytes()
    assert request.body == expected
    assert "created secret key file" in err  # first run: key file beside the database
    assert (tmp_path / "outbox.db.key").stat().st_mode & 0o777 == 0o600


async def test_push_send_with_basic_and_digest(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    async with serve(basic_protected("hook", "s3cret: +%")) as basic:
        code, out, err = await faxpush(
            env, "push", "send", "--auth", "HTTP_BASIC", "--principal", "hook",
            "--credentials", "s3cret: +%", basic.url(), str(REPORT),
        )  # fmt: skip
    assert code == 0, out + err
    digest = DigestServer("hook", "pw", algorithms=("SHA-256", "MD5"))
    async with serve(digest) as server:
        code, out, err = await faxpush(
            env, "push", "send", "--auth", "HTTP_DIGEST", "--principal", "hook",
            "--credentials", "pw", server.url("/fax"), str(REPORT),
        )  # fmt: skip
    assert code == 0, out + err
    assert "digest" in out
    assert [alg for _, _, alg in digest.accepted] == ["SHA-256"]


async def test_push_send_exit_codes_for_failures_and_bad_input(tmp_path: Path) -> None:
    async def gone(_request: web.Request) -> web.Response:
        return web.Response(status=410)

    env = cli_env(tmp_path)
    async with serve(gone) as receiver:
        code, out, err = await faxpush(env, "push", "send", receiver.url(), str(REPORT))
        assert code == 1
        assert "HTTP 410" in out
        assert "failed" in out
        code, _, err = await faxpush(env, "push", "send", receiver.url(), "missing.xml")
        assert code == 2
        assert err.strip() == "faxpush: missing.xml: file not found; check the path"
        code, _, err = await faxpush(env, "push", "send", "ftp://x/y", str(REPORT))
        assert code == 2
        assert "http" in err
        assert "Traceback" not in err
    async with serve(_ok) as receiver:
        code, out, _ = await faxpush(
            cli_env(tmp_path, allow=False), "push", "send", receiver.url(), str(REPORT)
        )
    assert code == 1
    assert "127.0.0.1" in out
    assert "FAXPUSH_ALLOWED_NETWORKS" in out
    assert receiver.requests == []


async def test_pushes_list_show_and_redeliver(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    answers = iter([500, 200])

    async def flaky(_request: web.Request) -> web.Response:
        return web.Response(status=next(answers, 200), text="nope")

    async with serve(flaky) as receiver:
        code, out, _ = await faxpush(
            env, "push", "send", "--attempts", "1", receiver.url(), str(REPORT)
        )
        assert code == 1
        delivery_id = re.search(r"push ([0-9a-f-]{36}):", out)
        assert delivery_id is not None
        code, out, _ = await faxpush(env, "pushes", "list", "--state", "failed")
        assert code == 0
        assert delivery_id[1] in out
        assert "failed: 1" in out
        code, out, _ = await faxpush(env, "pushes", "show", delivery_id[1])
        assert code == 0
        assert "500" in out
        assert "nope" in out
        code, out, _ = await faxpush(env, "pushes", "redeliver", delivery_id[1])
        assert code == 0
        assert "requeued 1" in out
        code, out, err = await faxpush(env, "pushes", "show", "no-such-id")
        assert code == 2
        assert "no push with delivery id" in err


async def test_worker_delivers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    async with serve(_ok) as receiver:
        # enqueue through the CLI: a push that fails once stays queued for the worker
        code, _, _ = await faxpush(env, "push", "send", "--attempts", "1", "http://127.0.0.1:9/x",
                                   str(REPORT))  # fmt: skip
        assert code == 1
        code, _, _ = await faxpush(env, "pushes", "redeliver", "--failed-since", "2000-01-01")
        assert code == 0
        worker = await asyncio.create_subprocess_exec(
            *CLI, "worker", env={**env, "FAXPUSH_RETRY_DELAYS": "0,0.1"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        seen: list[str] = []

        async def until_the_second_attempt() -> None:
            assert worker.stderr is not None
            while line := await worker.stderr.readline():
                seen.append(line.decode())
                if "attempt 2 to http://127.0.0.1:9/x" in seen[-1]:
                    return

        # Stopped once it has worked (not after a fixed time: a busy machine starts it slowly)
        await asyncio.wait_for(until_the_second_attempt(), 60)
        worker.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(worker.communicate(), 30)
    log = "".join(seen) + err.decode()
    assert worker.returncode == 0, log
    assert "attempt 2 to http://127.0.0.1:9/x" in log
    assert "worker stopped" in log
    assert receiver.requests == []


async def test_secret_key_and_rotation(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    code, first, _ = await faxpush(env, "secret-key")
    assert code == 0
    SecretCipher([first.strip()])  # a valid Fernet key
    code, second, _ = await faxpush(env, "secret-key")
    assert first != second
    env_old = {**env, "FAXPUSH_SECRET_KEY": first.strip()}
    async with serve(basic_protected("u", "p")) as receiver:
        code, _, _ = await faxpush(
            env_old, "push", "send", "--auth", "HTTP_BASIC", "--principal", "u",
            "--credentials", "p", receiver.url(), str(REPORT),
        )  # fmt: skip
    assert code == 0
    both = {**env, "FAXPUSH_SECRET_KEY": f"{second.strip()},{first.strip()}"}
    code, out, err = await faxpush(both, "secrets", "rotate")
    assert code == 0, err
    assert "re-encrypted 1 secret(s)" in out
    only_new = {**env, "FAXPUSH_SECRET_KEY": second.strip()}
    code, out, err = await faxpush(only_new, "pushes", "list")
    assert code == 0, err
    code, _, err = await faxpush(env_old | {"FAXPUSH_SECRET_KEY": "not-a-key"}, "pushes", "list")
    assert code == 2
    assert "faxpush secret-key" in err


@pytest.mark.parametrize(
    "command",
    [
        "worker",
        "secret-key",
        "push send",
        "pushes list",
        "pushes show",
        "pushes redeliver",
        "secrets rotate",
    ],
)
async def test_every_command_has_help_with_examples(tmp_path: Path, command: str) -> None:
    code, out, _ = await faxpush(cli_env(tmp_path), *command.split(), "--help")
    assert code == 0
    assert "Usage" in out
    assert "Example" in out or "Rotating" in out
