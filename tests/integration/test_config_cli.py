"""One configuration for every command, through the real CLI: the file (``faxpush --config``
or FAXPUSH_CONFIG_FILE) reaches every command, ``config show`` prints values and sources with
credentials masked, a bad value is one line and exit 2, PostgreSQL needs a secret key."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faxpush.cli.main import app
from faxpush.core.errors import ConfigurationError
from faxpush.storage.cipher import generate_key
from tests.pg_support import fresh_database, require_postgres

REPORT = Path(__file__).resolve().parents[1] / "data" / "spec_samples" / "report-full.xml"
CLI = [sys.executable, "-m", "faxpush.cli"]
NOWHERE = "http://127.0.0.1:9/hook"  # never reached: the commands stop before sending
EVERY_COMMAND = [
    ["config", "show"],
    ["pushes", "list"],
    ["pushes", "show", "x"],
    ["pushes", "redeliver", "x"],
    ["db", "migrate"],
    ["db", "copy", "sqlite:///a.db", "postgresql://127.0.0.1:9/b"],
    ["secrets", "rotate"],
    ["accounts", "list"],
    ["accounts", "add", "99999TE", "--login", "a", "--password", "p"],
    ["accounts", "set", "99999TE", "--push-url", NOWHERE],
    ["push", "send", NOWHERE, str(REPORT)],
    ["worker"],
    ["serve", "--port", "0"],
    ["listen", "--port", "0", "--inbox", "memory://"],
    ["check-endpoint", NOWHERE],
]


def _clean_env(**extra: str) -> dict[str, str | None]:
    """For CliRunner: every FAXPUSH_* variable of the test run unset, plus ``extra``."""
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("FAXPUSH_")}
    return cleared | dict(extra)


def _process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    return env | extra


async def _faxpush(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _names(directory: Path) -> list[str]:
    return await asyncio.to_thread(lambda: sorted(p.name for p in directory.iterdir()))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=" ".join)
def test_every_command_reads_the_file_given_at_the_root(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write(tmp_path / "site.toml", 'log_level = "LOUD"\n')
    result = CliRunner().invoke(app, ["--config", str(config), *args], env=_clean_env())
    assert isinstance(result.exception, ConfigurationError), result.output
    assert str(result.exception).startswith(f"setting log_level (file {config}): ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.toml"]


@pytest.mark.parametrize("args", [["pushes", "list"], ["worker"], ["config", "show"]])
def test_every_command_reads_the_file_the_variable_names(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write(tmp_path / "site.toml", "concurrency = 0\n")
    env = _clean_env(FAXPUSH_CONFIG_FILE=str(config))
    result = CliRunner().invoke(app, args, env=env)
    assert isinstance(result.exception, ConfigurationError), result.output
    assert str(result.exception).startswith(f"setting concurrency (file {config}): ")


def test_the_commands_share_the_database_the_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "site.db"
    database.parent.mkdir()
    config = _write(tmp_path / "site.toml", f'database_url = "sqlite:///{database}"\n')
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--config", str(config), *args], env=_clean_env())
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    assert str(database) in run("db", "migrate")
    run("accounts", "add", "99999TE", "--login", "alice", "--password", "pw")
    assert "99999TE" in run("accounts", "list")
    assert "pending: 0" in run("pushes", "list")
    assert "re-encrypted 0 secret(s)" in run("secrets", "rotate")
    assert sorted(p.name for p in database.parent.iterdir()) == ["site.db", "site.db.key"]
    assert not (tmp_path / "faxpush.db").exists()


def test_a_command_of_its_own_config_wins_over_the_root_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = _write(tmp_path / "root.toml", 'log_level = "LOUD"\n')
    own = _write(tmp_path / "own.toml", f'database_url = "sqlite:///{tmp_path / "own.db"}"\n')
    args = ["--config", str(root), "accounts", "list", "--config", str(own)]
    result = CliRunner().invoke(app, args, env=_clean_env())
    assert result.exit_code == 0, (result.output, result.exception)
    assert (tmp_path / "own.db").exists()


def test_memory_store_leaves_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["pushes", "list", "-d", "memory://"], env=_clean_env())
    assert result.exit_code == 0, (result.output, result.exception)
    assert list(tmp_path.iterdir()) == []


async def test_config_show_prints_every_value_with_its_source_masked(tmp_path: Path) -> None:
    key = generate_key()
    config = _write(
        tmp_path / "site.toml",
        f'concurrency = 7\nclaim_batch = 8\nsecret_key = "{key}"\n'
        'database_url = "postgresql://fax:pa55word@127.0.0.1:9/fax"\n'
        '[simulator]\nqueue_seconds = 1\n[[accounts]]\ncustomer_number = "99999TE"\n',
    )
    env = _process_env(FAXPUSH_CLAIM_BATCH="80", FAXPUSH_LOG_FORMAT="json")

    code, out, err = await _faxpush(
        env, tmp_path, "--config", str(config), "config", "show", "--json"
    )

    assert code == 0, err
    shown = json.loads(out)
    assert shown["concurrency"] == {
        "value": 7,
        "source": f"file {config}",
        "env": "FAXPUSH_CONCURRENCY",
    }
    assert shown["claim_batch"]["value"] == 80
    assert shown["claim_batch"]["source"] == "env FAXPUSH_CLAIM_BATCH"
    assert shown["log_format"]["value"] == "json"
    assert shown["secret_key"] == {
        "value": "********",
        "source": f"file {config}",
        "env": "FAXPUSH_SECRET_KEY",
    }
    assert shown["database_url"]["value"] == "postgresql://fax:********@127.0.0.1:9/fax"
    assert shown["config_file"] == {
        "value": str(config),
        "source": "flag --config",
        "env": "FAXPUSH_CONFIG_FILE",
    }
    assert shown["per_host_concurrency"] == {
        "value": 16,
        "source": "default",
        "env": "FAXPUSH_PER_HOST_CONCURRENCY",
    }
    assert key not in out + err
    assert "pa55word" not in out + err

    code, out, err = await _faxpush(env, tmp_path, "--config", str(config), "config", "show")
    assert code == 0, err
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert lines["concurrency"] == ["7", "file", str(config)]
    assert lines["secret_key"] == ["********", "file", str(config)]
    assert lines["worker_http"] == ["-", "default"]
    assert key not in out
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == [config]


@pytest.mark.parametrize(
    ("args", "extra_env", "file_text", "where"),
    [
        (["worker"], {"FAXPUSH_LOG_LEVEL": "LOUD"}, "", "env FAXPUSH_LOG_LEVEL"),
        (["worker", "--log-level", "LOUD"], {}, "", "flag --log-level"),
        (["pushes", "list"], {}, 'log_level = "LOUD"\n', "file {config}"),
        (["serve", "--port", "0"], {"FAXPUSH_SIM_SPEED": "fast"}, "", "env FAXPUSH_SIM_SPEED"),
        (["worker"], {}, "sqlite_store_process = 3\n", "file {config}"),
    ],
    ids=["env", "flag", "file", "serve-env", "file-type"],
)
async def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], extra_env: dict[str, str], file_text: str, where: str
) -> None:
    config = _write(tmp_path / "site.toml", file_text)
    env = _process_env(FAXPUSH_CONFIG_FILE=str(config), **extra_env)

    code, out, err = await _faxpush(env, tmp_path, *args)

    assert code == 2, out + err
    (line,) = err.splitlines()
    name = "sim_speed" if "serve" in args else "log_level"
    name = "sqlite_store_process" if "store_process" in file_text else name
    assert line.startswith(f"faxpush: setting {name} ({where.format(config=config)}): ")
    assert "Traceback" not in err


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    require_postgres()
    async with fresh_database() as url:
        yield url


@pytest.mark.postgres
async def test_postgres_without_a_secret_key_is_an_error_not_a_key_file(
    tmp_path: Path, empty_pg_url: str
) -> None:
    config = _write(tmp_path / "site.toml", f'database_url = "{empty_pg_url}"\n')
    env = _process_env()
    for args in (["db", "migrate"], ["worker"], ["pushes", "list"]):
        code, out, err = await _faxpush(env, tmp_path, "--config", str(config), *args)
        assert code == 2, out + err
        (line,) = err.splitlines()  # the error alone: nothing is logged before it
        assert "Traceback" not in err
        assert "PostgreSQL needs FAXPUSH_SECRET_KEY" in line
        assert "faxpush secret-key" in line
    assert await _names(tmp_path) == ["site.toml"]

    key = generate_key()
    _write(config, f'database_url = "{empty_pg_url}"\nsecret_key = "{key}"\n')
    code, out, err = await _faxpush(env, tmp_path, "--config", str(config), "db", "migrate")
    assert code == 0, err
    assert "is up to date" in out
    code, out, err = await _faxpush(env, tmp_path, "--config", str(config), "pushes", "list")
    assert code == 0, err
    assert await _names(tmp_path) == ["site.toml"]
