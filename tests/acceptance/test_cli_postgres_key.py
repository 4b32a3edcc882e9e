"""On PostgreSQL every command refuses to start without FAXPUSH_SECRET_KEY, before connecting,
instead of creating a key file in whatever directory it was started from."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faxpush.cli.main import app
from faxpush.core.errors import ConfigurationError
from faxpush.storage.factory import secret_key_file

REPORT = Path(__file__).resolve().parents[1] / "data" / "spec_samples" / "report-full.xml"
# Never reached: the commands stop before connecting (nothing listens on the discard port).
PG_URL = "postgresql://faxpush@127.0.0.1:9/faxpush"
IN_PROCESS = [
    ["pushes", "list"],
    ["secrets", "rotate"],
    ["accounts", "list"],
    ["db", "migrate"],
    ["db", "copy", PG_URL, "postgresql://faxpush@127.0.0.1:9/other"],
    ["serve", "--port", "0"],
    ["push", "send", "http://127.0.0.1:9/hook", str(REPORT)],
]


def _assert_says_how_to_fix(message: str) -> None:
    message = " ".join(message.split())
    assert "PostgreSQL needs FAXPUSH_SECRET_KEY" in message
    assert "faxpush secret-key" in message
    assert "same value everywhere" in message


async def test_the_worker_refuses_to_start_without_the_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_DATABASE_URL"] = PG_URL
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faxpush.cli", "worker", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode not in (0, None)
    _assert_says_how_to_fix(err.decode())
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []  # no faxpush.key


@pytest.mark.parametrize("args", IN_PROCESS, ids=" ".join)
def test_every_command_on_postgres_refuses_without_the_secret_key(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("FAXPUSH_")}
    result = CliRunner().invoke(app, args, env=cleared | {"FAXPUSH_DATABASE_URL": PG_URL})
    assert isinstance(result.exception, ConfigurationError), result.output
    _assert_says_how_to_fix(str(result.exception))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url", ["postgresql://db/faxpush", "postgres://u:p@db:5432/x", "postgresql+asyncpg://db/x"]
)
def test_postgres_has_no_key_file(url: str) -> None:
    with pytest.raises(ConfigurationError, match="FAXPUSH_SECRET_KEY"):
        secret_key_file(url)


def test_sqlite_keeps_its_key_file_beside_the_database() -> None:
    assert secret_key_file("sqlite:////var/lib/faxpush/outbox.db") == Path(
        "/var/lib/faxpush/outbox.db.key"
    )
    assert secret_key_file("sqlite:///outbox.db") == Path("outbox.db.key")
