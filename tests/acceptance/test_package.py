"""The package as a newcomer gets it: ``python -m build`` makes an sdist and a wheel, and the
wheel, installed with its runtime dependencies in a fresh virtual environment, runs the CLI
and the receiver toolkit without the optional extras (uvicorn, asyncpg, pypdf); a command
that needs one names the extra to install.

The build and the environment are made once per session (about 15 s with pip's cache warm).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ("uvicorn", "asyncpg", "pypdf")
TIMEOUT_S = 180


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    bin: Path

    def run(
        self, *args: str, stdin: str | None = None, secret_key: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``args[0]`` from the environment's bin directory, with the rest as arguments."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
        env.pop("VIRTUAL_ENV", None)
        if secret_key is not None:
            env["FAXPUSH_SECRET_KEY"] = secret_key
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )


def _run(*args: str, cwd: Path | None = None) -> None:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT))
    (wheel,) = dist.glob("faxpush-*.whl")
    (sdist,) = dist.glob("faxpush-*.tar.gz")
    venv = tmp_path_factory.mktemp("venv")
    # Without pip of its own (ensurepip costs seconds): this pip installs into it.
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(wheel))
    return Installed(wheel, sdist, venv / "bin")


def test_the_sdist_and_the_wheel_carry_the_license_and_the_samples(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = wheel.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "faxpush/receiver/golden/report-full.xml" in names
    assert "License-Expression: MIT" in text
    assert "Classifier: Programming Language :: Python :: 3.11" in text
    assert "Project-URL: Documentation" in text
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    for module in EXTRAS:
        assert all("extra ==" in line for line in requires if module in line), module
    with tarfile.open(installed.sdist) as sdist:
        members = sdist.getnames()
    top = members[0].split("/")[0]
    assert f"{top}/LICENSE" in members
    assert f"{top}/src/faxpush/py.typed" in members
    assert not any("/.venv/" in m for m in members)


def test_the_receiver_toolkit_imports_without_the_extras(installed: Installed) -> None:
    probe = (
        "import importlib.util, sys, faxpush.receiver\n"
        f"extras = {EXTRAS!r}\n"
        "print([m for m in extras if m in sys.modules or importlib.util.find_spec(m)])\n"
    )
    done = installed.run("python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"  # neither imported nor even installed


@pytest.mark.parametrize("layout", ["xml", "json"])
def test_the_installed_cli_parses_its_own_sample(installed: Installed, layout: str) -> None:
    # faxpush report sample --format LAYOUT | faxpush report parse -
    sample = installed.run("faxpush", "report", "sample", "--format", layout)
    assert sample.returncode == 0, sample.stderr
    done = installed.run("faxpush", "report", "parse", "-", stdin=sample.stdout)
    assert done.returncode == 0, done.stderr
    assert '"jobId": ' in done.stdout


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["serve", "--port", "0"], "serve"),
        (["pushes", "list", "--database-url", "postgresql://postgres@127.0.0.1:1/x"], "postgres"),
    ],
    ids=["serve", "postgres"],
)
def test_a_command_without_its_extra_names_it(
    installed: Installed, args: list[str], extra: str
) -> None:
    key = installed.run("faxpush", "secret-key").stdout.strip().splitlines()[-1]
    done = installed.run("faxpush", *args, secret_key=key)
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith(f"install it with: pip install 'faxpush[{extra}]'\n")
    assert done.stderr.count("\n") == 1, done.stderr
