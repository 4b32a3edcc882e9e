"""``make run`` with the console: the demo prints the console's URL and a user; logging in
with it shows the sample job, its push and the push's attempt (``faxpush serve``'s
composition: API and console at ``/admin``, with the Jobs page)."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import aiohttp

from faxpush.cli._console import admin_mounts
from faxpush.emulator.demo import run_demo


async def test_the_demo_prints_a_console_login_that_works(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    pushed = asyncio.Event()
    demo = asyncio.create_task(
        run_demo(
            port=0,
            workdir=tmp_path,
            out=out,
            stop=stop,
            handle_signals=False,
            on_push=pushed.set,
            speed=0.01,
            mounts_for=lambda settings: admin_mounts(settings, metrics=None),
        )
    )
    try:
        await asyncio.wait_for(pushed.wait(), 60)
        found = re.search(
            r"console   (http://\S+/admin/)   user (\S+), password (\S+)", out.getvalue()
        )
        assert found, out.getvalue()
        console, user, password = found.groups()
        jar = aiohttp.CookieJar(unsafe=True)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as client:
            async with client.post(
                console + "login", data={"user": user, "password": password}
            ) as answer:
                assert answer.status == 200
                assert str(answer.url) == console  # redirected to the overview
            async with client.get(console + "jobs") as answer:
                jobs = await answer.text()
                assert answer.status == 200
                assert 'data-testid="job-row"' in jobs
                assert "+12125550101" in jobs  # a recipient of the sample job
            push_id = re.search(r'data-testid="job-push">([^<]+)<', jobs)
            assert push_id is not None
            deadline = asyncio.get_running_loop().time() + 10
            while True:  # the push arrived; its attempt is recorded in the same moment
                async with client.get(f"{console}pushes/{push_id.group(1)}") as answer:
                    page = await answer.text()
                if 'id="attempt-1"' in page or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert 'id="attempt-1"' in page
            assert 'data-testid="push-body"' in page
            async with client.get(console + "api/v1/pushes") as answer:
                assert answer.status == 401  # the API still wants its bearer token
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(demo, return_exceptions=True), 30)
