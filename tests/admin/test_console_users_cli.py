"""``faxpush admin user``: console users created from a terminal (asked twice) or from
standard input, listed without their hashes, deleted; bad passwords refused in one line."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from faxpush.cli.main import app
from faxpush.core.errors import InputError
from faxpush.core.passwords import verify_password
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.operator import ConsoleUser
from faxpush.storage.sqlite import SqliteStore
from tests.emulator.processes import SECRET_KEY

from .processes import admin_env

PASSWORD = "corr3ct-Hörse-battery"
PROMPT_TIMEOUT_S = 30.0


def _user_cli(database: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["admin", "user", *args], env=admin_env(database), input=stdin)


async def _stored_user(path: Path, name: str) -> ConsoleUser | None:
    store = await SqliteStore.open(path, SecretCipher([SECRET_KEY]))
    try:
        return await store.console_user(name)
    finally:
        await store.close()


def test_create_from_stdin_list_delete(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    database = f"sqlite:///{path}"
    created = _user_cli(database, "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert "console user 'alice' created" in created.stderr
    user = asyncio.run(_stored_user(path, "alice"))
    assert user is not None
    assert verify_password(PASSWORD, user.password_hash)

    listed = _user_cli(database, "list")
    assert listed.exit_code == 0
    assert "alice" in listed.stdout
    assert "scrypt" not in listed.stdout
    assert user.password_hash.split("$")[-1] not in listed.stdout

    again = _user_cli(database, "create", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert isinstance(again.exception, InputError)
    assert "exists already" in str(again.exception)
    assert _user_cli(database, "delete", "alice").exit_code == 0
    missing = _user_cli(database, "delete", "alice")
    assert isinstance(missing.exception, InputError)
    assert "no console user named 'alice'" in str(missing.exception)
    assert "no console users" in _user_cli(database, "list").stdout


def _run(database: str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faxpush.cli.main", "admin", "user", *args],
        input=stdin,
        env=admin_env(database),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_passwords_and_no_terminal_are_one_line_and_exit_2(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'users.db'}"
    for stdin, said in [
        ("\n", "0 characters long"),
        ("short\n", "at least 8"),
        ("", "0 characters long"),
    ]:
        done = _run(database, "create", "bob", "--password-stdin", stdin=stdin)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1
        assert said in done.stderr
    asked = _run(database, "create", "bob", stdin=PASSWORD + "\n" + PASSWORD + "\n")
    assert asked.returncode == 2
    assert "pass --password-stdin" in asked.stderr
    assert asked.stderr.count("\n") == 1
    assert "no console users" in _run(database, "list", stdin="").stdout


async def _answer_prompt(stderr: asyncio.StreamReader, seen: list[str], prompt: str) -> None:
    """Wait until ``prompt`` has been written (echo is off by then) since the last one."""
    async with asyncio.timeout(PROMPT_TIMEOUT_S):
        while not seen[-1].endswith(prompt):
            chunk = await stderr.read(200)
            assert chunk, f"the command ended before asking {prompt!r}: {''.join(seen)!r}"
            seen[-1] += chunk.decode()
    seen.append("")


def _pending_output(controller: int) -> bytes:
    """What the terminal has shown and nobody read yet."""
    os.set_blocking(controller, False)
    try:
        return os.read(controller, 65536)
    except OSError:  # nothing to read
        return b""


async def test_create_asks_twice_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    controller, terminal = pty.openpty()
    try:
        # A session of its own: the terminal is the process's standard input, not /dev/tty.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "faxpush.cli.main",
            "admin",
            "user",
            "create",
            "carol",
            stdin=terminal,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=admin_env(f"sqlite:///{path}"),
            start_new_session=True,
        )
        assert process.stderr is not None
        seen = [""]
        try:
            # Answer only once the prompt itself is out: the password prompt flushes what
            # was typed before it (TCSAFLUSH), and "Error: ..." is not a prompt.
            for typed, prompt in (
                (PASSWORD, "Password: "),
                ("something-else", "Repeat for confirmation: "),
                (PASSWORD, "Password: "),
                (PASSWORD, "Repeat for confirmation: "),
            ):
                await _answer_prompt(process.stderr, seen, prompt)
                os.write(controller, typed.encode() + b"\n")
            async with asyncio.timeout(60):
                rest = (await process.stderr.read()).decode()
                assert await process.wait() == 0, "".join(seen) + rest
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        echoed = _pending_output(controller)
    finally:
        os.close(controller)
        os.close(terminal)
    said = "".join(seen) + rest
    assert "Repeat for confirmation" in said
    assert "do not match" in said
    assert PASSWORD not in said
    assert PASSWORD.encode() not in echoed  # the terminal did not show it either
    assert "console user 'carol' created" in said
    user = await _stored_user(path, "carol")
    assert user is not None
    assert verify_password(PASSWORD, user.password_hash)
