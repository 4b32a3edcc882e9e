"""The operator API on PostgreSQL: two ``faxpush admin serve`` processes on one database.
Pushes ingested through one are read, cancelled and redelivered through the other, and an
Idempotency-Key sent to both makes one push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests import pg_support

from .harness import REQUEST_TIMEOUT, xml_report
from .processes import admin_process, create_token

pytestmark = pytest.mark.postgres

XML = {"Content-Type": "text/xml; charset=UTF-8"}


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    pg_support.require_postgres()
    template = await pg_support.outbox_template()
    async with pg_support.fresh_database(template) as url:
        yield url


async def test_two_admin_processes_share_one_database(pg_url: str) -> None:
    token = await asyncio.to_thread(create_token, pg_url, "ops")
    bearer = {"Authorization": f"Bearer {token}"}
    async with (
        admin_process(pg_url) as first,
        admin_process(pg_url) as second,
        aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, headers=bearer) as session,
    ):
        assert first != second
        async with session.get(second + "/readyz") as answer:
            assert answer.status == 200
        async with session.post(
            first + "/api/v1/pushes", data=xml_report("pg-1"), headers=XML
        ) as answer:
            assert answer.status == 202
            location = answer.headers["Location"]
        async with session.get(second + location) as answer:
            push = await answer.json()
            assert (push["jobId"], push["state"]) == ("pg-1", "pending")
        async with session.post(second + location + "/cancel") as answer:
            assert (await answer.json())["state"] == "cancelled"
        async with session.post(first + location + "/redeliver") as answer:
            assert (await answer.json())["state"] == "pending"
        key = {**XML, "Idempotency-Key": "pg-key"}

        async def ingest(url: str) -> str:
            async with session.post(
                url + "/api/v1/pushes", data=xml_report("pg-2"), headers=key
            ) as answer:
                assert answer.status == 202
                delivery_id: str = (await answer.json())["deliveryId"]
                return delivery_id

        ids = await asyncio.gather(*(ingest(url) for url in (first, second) * 5))
        assert len(set(ids)) == 1
        async with session.get(first + "/api/v1/pushes", params={"jobId": "pg-2"}) as answer:
            assert len((await answer.json())["pushes"]) == 1
        async with session.get(second + "/api/v1/receivers") as answer:
            rows = (await answer.json())["receivers"]
            assert [r["pending"] for r in rows] == [2]
