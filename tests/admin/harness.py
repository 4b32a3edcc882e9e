"""A real operator API on 127.0.0.1 for tests: ``faxpush admin``'s server, in process, on a
SQLite file (or a given database URL), with a write and a read token; and report builders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from faxpush.admin.server import AdminServerInfo, operator_store, run_admin
from faxpush.admin.tokens import new_token, token_hash
from faxpush.core.json_codec import render_json
from faxpush.core.models import AuthMethod, FaxJobReport, HttpStatusPush, RecipientStatus
from faxpush.core.secrets import Secret
from faxpush.core.settings import Settings
from faxpush.core.xml_codec import render_xml
from faxpush.storage.cipher import generate_key
from faxpush.storage.factory import open_configured_store
from faxpush.storage.operator import OperatorStore, TokenScope

START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)


def report(
    job_id: str,
    *,
    url: str | None = "https://hooks.example.test/fax",
    auth: AuthMethod | None = None,
    status: str = "OK",
) -> FaxJobReport:
    """A finished one-recipient report, pushing to ``url`` when given."""
    return FaxJobReport(
        jobId=job_id,
        httpStatusPush=None if url is None else HttpStatusPush(url=url, authMethod=auth),
        faxRecipients=(
            RecipientStatus(
                number="+4930123456",
                status=status,
                reason="OK" if status == "OK" else None,
                sentTS=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                durationInSecs=12,
            ),
        ),
    )


def xml_report(job_id: str, **kwargs: Any) -> bytes:
    return render_xml(report(job_id, **kwargs))


def json_report(job_id: str, **kwargs: Any) -> bytes:
    return render_json(report(job_id, **kwargs))


@dataclass
class Admin:
    """A running operator API and what tests need to call it."""

    url: str
    settings: Settings
    write_token: str
    read_token: str
    store: OperatorStore  # a second connection to the same database, for checks
    session: aiohttp.ClientSession
    headers: dict[str, str] = field(default_factory=dict)

    def auth(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.write_token}", **extra}

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: bytes | None = None,
        json_body: Any = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """Status, decoded JSON (or text) and headers of one call with a token."""
        sent = self.auth(token)
        if content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        async with self.session.request(
            method, self.url + path, data=body, json=json_body, headers=sent, params=params
        ) as response:
            text = await response.text()
            try:
                decoded: Any = await response.json(content_type=None)
            except ValueError:
                decoded = text
            return response.status, decoded, response.headers


async def refused_within(
    session: aiohttp.ClientSession, url: str, token: str, seconds: float = 3.0
) -> int:
    """Ask ``url`` with ``token`` until it is refused (401), at most ``seconds`` (a revoked
    token may stay in a server's token cache for a second); the last status."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as answer:
            if answer.status == 401 or asyncio.get_running_loop().time() > deadline:
                return answer.status
        await asyncio.sleep(0.1)


async def create_token(settings: Settings, name: str, scope: TokenScope) -> str:
    store = operator_store(await open_configured_store(settings, notify=lambda _m: None))
    try:
        token = new_token()
        await store.create_api_token(name, scope, token_hash(token), now=datetime.now(UTC))
        return token
    finally:
        await store.close()


def sqlite_settings(directory: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{directory / 'admin.db'}",
        secret_key=Secret(generate_key()),
        admin_listen="127.0.0.1:0",
        **overrides,
    )


@contextlib.asynccontextmanager
async def running_admin(settings: Settings) -> AsyncIterator[Admin]:
    """The admin server on a free port of 127.0.0.1 over ``settings``' database."""
    write_token = await create_token(settings, "writer", TokenScope.WRITE)
    read_token = await create_token(settings, "reader", TokenScope.READ)
    stop = asyncio.Event()
    started: asyncio.Future[AdminServerInfo] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        run_admin(settings, stop=stop, on_ready=started.set_result, handle_signals=False)
    )
    checks = operator_store(await open_configured_store(settings, notify=lambda _m: None))
    try:
        waited: set[asyncio.Future[Any]] = {started, serving}
        done, _ = await asyncio.wait(
            waited, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if serving in done:
            serving.result()
        info = started.result()
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            yield Admin(info.url, settings, write_token, read_token, checks, session)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(serving, return_exceptions=True), 30)
        await checks.close()
