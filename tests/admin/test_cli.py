"""``faxpush admin`` as an operator runs it: token create/list/revoke, ``admin serve`` in a
subprocess on a free port, ``faxpush openapi admin``, and the API mounted at ``/admin`` by
``faxpush serve``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from faxpush.core.errors import InputError
from tests.emulator.processes import start_serve

from .harness import REQUEST_TIMEOUT, refused_within, xml_report
from .processes import admin_env, admin_process, create_token, faxpush

XML = {"Content-Type": "text/xml; charset=UTF-8"}


def test_token_create_list_revoke(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'tokens.db'}"
    token = create_token(database, "ops")
    create_token(database, "dash", "read")
    listed = faxpush(database, "admin", "token", "list")
    assert listed.exit_code == 0
    assert "ops" in listed.stdout
    assert "dash" in listed.stdout
    assert token not in listed.stdout
    again = faxpush(database, "admin", "token", "create", "ops")
    assert isinstance(again.exception, InputError)
    assert "exists already" in str(again.exception)
    assert faxpush(database, "admin", "token", "revoke", "ops").exit_code == 0
    missing = faxpush(database, "admin", "token", "revoke", "ops")
    assert isinstance(missing.exception, InputError)
    assert "no unrevoked API token" in str(missing.exception)


async def test_admin_serve_in_a_process(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    token = await asyncio.to_thread(create_token, database, "ops")
    reader = await asyncio.to_thread(create_token, database, "dash", "read")
    async with (
        admin_process(database) as url,
        aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session,
    ):
        for path in ("/healthz", "/readyz"):
            async with session.get(url + path) as answer:
                assert answer.status == 200
        bearer = {"Authorization": f"Bearer {token}"}
        async with session.post(
            url + "/api/v1/pushes", data=xml_report("cli-1"), headers={**XML, **bearer}
        ) as answer:
            assert answer.status == 202
        async with session.get(
            url + "/api/v1/pushes", headers={"Authorization": f"Bearer {reader}"}
        ) as answer:
            assert [p["jobId"] for p in (await answer.json())["pushes"]] == ["cli-1"]
        async with session.get(url + "/metrics") as answer:  # no token, like the health routes
            assert answer.status == 200
            assert "faxpush_pushes_queued_total 1.0" in await answer.text()
        revoked = await asyncio.to_thread(faxpush, database, "admin", "token", "revoke", "ops")
        assert revoked.exit_code == 0, revoked.output
        assert await refused_within(session, url + "/api/v1/pushes", token) == 401


def test_bad_listen_address_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "faxpush.cli.main", "admin", "serve", "--listen", "nowhere"],
        env=admin_env(f"sqlite:///{tmp_path / 'x.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "admin_listen" in done.stderr


def test_openapi_admin_prints_the_document(tmp_path: Path) -> None:
    done = faxpush(f"sqlite:///{tmp_path / 'x.db'}", "openapi", "admin")
    assert done.exit_code == 0
    document = json.loads(done.stdout)
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/pushes" in document["paths"]


@pytest.mark.slow
async def test_serve_mounts_the_api_under_admin(tmp_path: Path) -> None:
    database = tmp_path / "serve.db"
    token = await asyncio.to_thread(create_token, f"sqlite:///{database}", "ops")
    server = await start_serve(database)
    try:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            base = server.url + "/admin/api/v1/pushes"
            async with session.post(base, data=xml_report("serve-1"), headers=XML) as answer:
                assert answer.status == 401
            bearer = {"Authorization": f"Bearer {token}"}
            async with session.post(
                base, data=xml_report("serve-1"), headers={**XML, **bearer}
            ) as answer:
                assert answer.status == 202
                location = answer.headers["Location"]
            assert location.startswith("/admin/api/v1/pushes/")
            async with session.get(server.url + location, headers=bearer) as answer:
                assert (await answer.json())["jobId"] == "serve-1"
            async with session.get(server.url + "/admin/openapi.json", headers=bearer) as answer:
                assert (await answer.json())["info"]["title"] == "faxpush operator API"
            async with session.get(server.url + "/openapi.json") as answer:
                assert "Fax4A" in (await answer.json())["info"]["title"]
    finally:
        assert await server.terminate() == 0
