"""A real emulator (uvicorn on a free 127.0.0.1 port, SQLite in tmp_path) for the tests."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from faxpush.core.settings import Settings
from faxpush.core.targets import Account
from faxpush.emulator.accounts import save_login
from faxpush.emulator.app import EmulatorServices
from faxpush.emulator.config import EmulatorConfig
from faxpush.emulator.serve import ServerInfo, run_server
from faxpush.storage.cipher import generate_key
from faxpush.storage.jobs_base import JobRecord, JobState

HELLO = base64.b64encode(b"Hello, fax!\n").decode("ascii")
MINIMAL_JOB: dict[str, Any] = {
    "recipients": [{"number": "+12015551000"}],
    "documents": [{"name": "hello.txt", "data": HELLO}],
}
TIMEOUT = aiohttp.ClientTimeout(total=10)


def basic_auth(login: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic (RFC 7617, UTF-8)."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Fast settings: instant simulation, loopback pushes allowed, quick retries."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/emulator.db",
        "secret_key": generate_key(),
        "allowed_networks": "127.0.0.0/8",
        "sim_speed": 0,
        "poll_interval": 0.05,
        "retry_delays": "0,0.05s,0.1s",
        "retry_jitter": 0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass
class Emulator:
    """A running emulator and a client session logged in as its first login."""

    info: ServerInfo
    session: aiohttp.ClientSession
    customer: str
    login: str
    password: str

    @property
    def services(self) -> EmulatorServices:
        return self.info.services

    @property
    def auth(self) -> str:
        return basic_auth(self.login, self.password)

    def api(self, path: str = "", *, customer: str | None = None) -> str:
        return f"{self.info.api_url}/{customer or self.customer}/fax{path}"

    async def call(
        self,
        method: str,
        path: str = "",
        *,
        body: bytes | Mapping[str, Any] | None = None,
        auth: str | None = None,
        customer: str | None = None,
    ) -> tuple[int, Any]:
        """One call; returns the status and the decoded JSON body (None when empty)."""
        data = json.dumps(body).encode() if isinstance(body, Mapping) else body
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if auth != "":
            headers["Authorization"] = auth or self.auth
        # aiohttp warns about bytes over 1 MiB (sent in one write); a stream is chunked
        payload = io.BytesIO(data) if data is not None and len(data) > 2**20 else data
        async with self.session.request(
            method, self.api(path, customer=customer), data=payload, headers=headers
        ) as response:
            raw = await response.read()
            return response.status, json.loads(raw) if raw else None

    async def send(self, job: Mapping[str, Any] | bytes = MINIMAL_JOB) -> str:
        status, answer = await self.call("POST", body=job)
        assert status == 201, answer
        job_id: str = answer["jobId"]
        return job_id

    async def finished(self, job_id: str, *, within: float = 10.0) -> JobRecord:
        """Wait (bounded) until the job is finished; return its record."""
        async with asyncio.timeout(within):
            while True:
                job = await self.services.jobs.get_job(self.customer, job_id)
                if job is not None and job.state is JobState.FINISHED:
                    return job
                await asyncio.sleep(0.02)


@asynccontextmanager
async def running_emulator(
    tmp_path: Path,
    *,
    config: EmulatorConfig | None = None,
    credentials: tuple[str, str, str] | None = None,
    **overrides: Any,
) -> AsyncIterator[Emulator]:
    """Start the emulator with :func:`test_settings`; stop it on exit.

    The client logs in with the first login the server created, or with ``credentials``
    (customer number, login, password) when the configuration made the accounts."""
    settings = test_settings(tmp_path, **overrides)
    stop = asyncio.Event()
    ready: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
    started = asyncio.ensure_future(ready)
    task = asyncio.create_task(
        run_server(
            settings,
            config,
            host="127.0.0.1",
            port=0,
            stop=stop,
            on_ready=ready.set_result,
            handle_signals=False,
        )
    )
    try:
        waiting: set[asyncio.Future[Any]] = {task, started}
        done, _ = await asyncio.wait(waiting, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert started in done, "the emulator did not start within 15 s"
        info = ready.result()
        first = info.first_login
        if credentials is None:
            assert first is not None
            credentials = (first.customer_number, first.login, first.password)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            yield Emulator(info, session, *credentials)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def add_customer(emulator: Emulator, customer: str, login: str, password: str) -> str:
    """Create another customer number with one login; return its Authorization header."""
    services = emulator.services
    await services.store.put_account(Account(customer))
    await save_login(services.jobs, login, customer, now=datetime.now(UTC), password=password)
    return basic_auth(login, password)
