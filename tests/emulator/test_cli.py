"""``faxpush serve`` and ``faxpush accounts`` as a user runs them."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from faxpush.cli import accounts
from faxpush.core.errors import ConfigurationError, InputError

from .harness import basic_auth
from .processes import SECRET_KEY, serve_env, start_serve

RUNNER = CliRunner()


def _accounts(database: Path, *args: str) -> tuple[int, str, BaseException | None]:
    result = RUNNER.invoke(
        accounts.app,
        [*args, "--database-url", f"sqlite:///{database}"],
        env={"FAXPUSH_SECRET_KEY": SECRET_KEY},
    )
    return result.exit_code, result.output, result.exception


def test_accounts_add_list_and_set(tmp_path: Path) -> None:
    database = tmp_path / "faxpush.db"
    template = tmp_path / "acme.xml.j2"
    template.write_text("<push>{{ report.jobId | xml_escape }}</push>", encoding="utf-8")

    code, output, _ = _accounts(
        database,
        "add", "4711", "--login", "alice", "--password", "Alice-pw-1",
        "--push-format", "json", "--push-url", "https://hooks.example.org/fax",
        "--push-auth", "HTTP_BASIC", "--push-principal", "hook", "--push-credentials", "Hook-pw-2",
    )  # fmt: skip
    assert (code, output) == (0, "customer number 4711 created; login alice added\n")
    assert _accounts(database, "add", "4711", "--login", "bob", "--password", "Bob-pw-3")[0] == 0
    code, output, _ = _accounts(database, "set", "4711", "--push-template", str(template))
    assert (code, output) == (0, "customer number 4711 updated\n")
    assert _accounts(database, "set", "4711", "--login", "bob", "--password", "Bob-pw-4")[0] == 0

    code, output, _ = _accounts(database, "list")
    assert code == 0
    assert output == (
        "4711  format=template  push=https://hooks.example.org/fax  auth=HTTP_BASIC  "
        "logins=alice,bob\n"
    )
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("faxpush.db*"))
    for secret in (b"Alice-pw-1", b"Bob-pw-3", b"Bob-pw-4", b"Hook-pw-2"):
        assert secret not in stored
    with sqlite3.connect(database) as conn:
        hashes = dict(conn.execute("SELECT login, password_hash FROM rest_logins"))
    assert all(value.startswith("scrypt$") for value in hashes.values())


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("set", "9999"), InputError, "does not exist"),
        (
            ("add", "1", "--login", "a", "--password", "p", "--push-auth", "OAUTH2"),
            InputError,
            "oauth2-token-url",
        ),
        (
            ("add", "1", "--login", "a", "--password", "p", "--push-url", "ftp://x"),
            ConfigurationError,
            "http://",
        ),
        (
            ("add", "1", "--login", "a", "--password", "p", "--push-format", "csv"),
            InputError,
            "unknown push format",
        ),
        (
            ("add", "1", "--login", "a", "--password", "p", "--push-template", "/no/such.j2"),
            InputError,
            "cannot read",
        ),
        (("set", "1", "--login", "a"), InputError, "together"),
    ],
)
def test_accounts_mistakes_are_explained(
    tmp_path: Path, args: tuple[str, ...], error: type[Exception], message: str
) -> None:
    code, _, exception = _accounts(tmp_path / "faxpush.db", *args)
    assert code != 0
    assert isinstance(exception, error)
    assert message in str(exception)


def test_a_login_belongs_to_one_customer_number(tmp_path: Path) -> None:
    database = tmp_path / "faxpush.db"
    assert _accounts(database, "add", "1", "--login", "a", "--password", "p")[0] == 0
    _, _, exception = _accounts(database, "add", "2", "--login", "a", "--password", "p")
    assert isinstance(exception, InputError)
    _, _, exception = _accounts(database, "set", "2", "--login", "a", "--password", "x")
    assert isinstance(exception, InputError)


def test_the_cli_reports_errors_in_one_line(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "faxpush.cli.accounts",
            "set",
            "nope",
            "-d",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        text=True,
        env=serve_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("faxpush: customer number nope does not exist")


async def test_serve_prints_a_working_login_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "faxpush.db"
    server = await start_serve(database, "--sim-speed", "0")
    try:
        assert server.created is not None
        customer, login, password = server.created
        banner = "\n".join(server.lines)
        assert f"{server.url}/docs" in banner
        assert f"curl -u {login}:{password} -H 'Content-Type: application/json'" in banner
        sample = banner.split(" -d '", 1)[1].split("'", 1)[0]
        async with aiohttp.ClientSession(
            headers={"Authorization": basic_auth(login, password)},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as session:
            url = f"{server.url}/rest/v1/{customer}/fax"
            async with session.post(
                url, data=sample, headers={"Content-Type": "application/json"}
            ) as response:
                assert response.status == 201
                job_id = (await response.json())["jobId"]
            async with asyncio.timeout(10):
                while True:
                    async with session.get(f"{url}/reports/{job_id}") as response:
                        report = await response.json()
                    if report["recipientStatus"][0]["status"] != "PENDING":
                        break
                    await asyncio.sleep(0.05)
        assert report["recipientStatus"][0]["status"] == "OK"
    finally:
        assert await server.terminate() == 0

    again = await start_serve(database)
    try:
        assert again.created is None  # the login exists: no new one, no password shown
        assert any("curl -u demo:PASSWORD" in line for line in again.lines)
    finally:
        assert await again.terminate() == 0


async def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    first = await start_serve(tmp_path / "a.db")
    try:
        port = first.url.rsplit(":", 1)[1]
        completed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "faxpush.cli.serve", "--port", port,
            "--database-url", f"sqlite:///{tmp_path}/b.db",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=serve_env(),
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(completed.communicate(), 30)
        assert completed.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode()
    finally:
        await first.terminate()
