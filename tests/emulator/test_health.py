"""``faxpush serve``'s /healthz, /readyz and /metrics: through real HTTP beside the REST API,
counting the push a job sent to a real receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from faxpush._observe.metrics import Metrics
from faxpush.emulator.serve import ServerInfo, run_server
from tests.integration.servers import always_ok, serve

from . import harness
from .harness import MINIMAL_JOB, basic_auth

TIMEOUT = aiohttp.ClientTimeout(total=10)


def delivered(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "faxpush_attempts_total" and sample.labels["verdict"] == "delivered":
                return sample.value
    return 0.0


async def test_serve_answers_health_and_counts_the_push_of_a_job(tmp_path: Path) -> None:
    stop = asyncio.Event()
    ready: asyncio.Future[ServerInfo] = asyncio.get_running_loop().create_future()
    metrics = Metrics(CollectorRegistry())
    task = asyncio.create_task(
        run_server(
            harness.test_settings(tmp_path),
            host="127.0.0.1",
            port=0,
            stop=stop,
            on_ready=ready.set_result,
            handle_signals=False,
            metrics=metrics,
        )
    )
    try:
        info = await asyncio.wait_for(asyncio.shield(ready), 15)
        first = info.first_login
        assert first is not None
        async with serve(always_ok) as receiver, aiohttp.ClientSession(timeout=TIMEOUT) as http:
            job: dict[str, Any] = {
                **MINIMAL_JOB,
                "statusReportOptions": {
                    "httpStatusPush": {"targetUrl": receiver.url("/fax"), "authMethod": "NONE"}
                },
            }
            headers = {"Authorization": basic_auth(first.login, first.password)}
            url = f"{info.api_url}/{first.customer_number}/fax"
            async with http.post(url, json=job, headers=headers) as answer:
                assert answer.status == 201
            async with http.get(info.url + "/healthz") as health:
                assert (health.status, await health.json()) == (200, {"status": "ok"})
            async with http.get(info.url + "/readyz") as readiness:
                assert (readiness.status, await readiness.json()) == (200, {"status": "ready"})
            text = ""
            for _ in range(100):  # bounded: 10 s
                async with http.get(info.url + "/metrics") as scrape:
                    assert scrape.status == 200
                    text = await scrape.text()
                if delivered(text) >= 1:
                    break
                await asyncio.sleep(0.1)
            assert delivered(text) == 1, text
            async with http.post(info.url + "/healthz") as post:
                assert post.status != 200  # only GET and HEAD reach the health routes
        assert len(receiver.requests) == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
