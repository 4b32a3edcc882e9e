"""The CLI imports a command's dependencies only when that command runs.

Each case runs the CLI in a fresh interpreter and reports which modules it loaded: timing is
left to docs/benchmarks.md ("CLI start-up"), this checks the cause.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from faxpush.cli.main import COMMANDS, LazyGroup, app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "spec_samples" / "report-full.xml"

# Runs the CLI in-process, then prints the top-level names of every module it loaded.
_PROBE = """
import contextlib, io, json, sys
from faxpush.cli.main import app
with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
    try:
        app(args=sys.argv[1:], prog_name="faxpush")
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""

SERVER_SIDE = {"aiohttp", "asyncpg", "uvicorn", "pypdf", "starlette", "cryptography", "jwt"}


def loaded_modules(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        timeout=60,
        check=False,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["code"] in (0, None), result.stderr
    return set(report["modules"])


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_load_no_command_dependencies(args: list[str]) -> None:
    loaded = loaded_modules(*args)
    assert not loaded & (SERVER_SIDE | {"lxml", "jinja2", "pydantic"})


def test_report_parse_loads_only_what_parsing_needs() -> None:
    loaded = loaded_modules("report", "parse", str(SAMPLE))
    assert "lxml" in loaded  # the probe did parse the report
    assert not loaded & (SERVER_SIDE | {"jinja2"})


def test_a_command_s_help_loads_only_its_own_module() -> None:
    loaded = loaded_modules("report", "--help")
    assert not loaded & SERVER_SIDE


def test_each_summary_in_the_listing_is_the_command_s_own() -> None:
    """The root listing is written down in main.COMMANDS; it must say what the command says."""
    root = get_command(app)
    assert isinstance(root, LazyGroup)
    for name, lazy in COMMANDS.items():
        command = lazy.load(name)
        own = command.short_help or (command.help or "").split("\n\n")[0]
        assert " ".join(own.split()) == " ".join(lazy.summary.split()), name
        assert root.get_command(None, name) is not None
