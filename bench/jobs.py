"""Benchmark of ``POST /rest/v1/{custNr}/fax``: accepted jobs/s and latency at 50 clients.

Two servers, each in its own process on 127.0.0.1, get the same load (1 recipient, one
small PDF, HTTP Basic auth):

* ``faxpush serve`` (SQLite, ``--sim-speed 0``): authentication, validation, page counting
  with pypdf, planning, one durable write per job; the simulator finishes each job at once
  (a second write), no pushes;
* a bare Starlette endpoint on the same uvicorn that only parses the JSON body and answers
  a job id: the ceiling set by the HTTP stack and the load generator.

    python bench/jobs.py [--seconds 10] [--clients 50]

Prints a Markdown table. The load generator runs in this process (aiohttp), so on a small
machine it competes with the server for the CPU; the bare endpoint shows that ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pypdf import PdfWriter

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
CREATED = re.compile(r"created customer number (\S+) with login (\S+) and password (\S+)")


def small_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def job_body() -> bytes:
    return json.dumps(
        {
            "recipients": [{"number": "+12015551000"}],
            "documents": [
                {"name": "invoice.pdf", "data": base64.b64encode(small_pdf()).decode("ascii")}
            ],
        }
    ).encode()


# --- the bare endpoint (run with --bare-server) -----------------------------------------


def run_bare_server() -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def accept(request: Request) -> JSONResponse:
        document = json.loads(await request.body())
        assert document["recipients"]
        return JSONResponse({"jobId": "FJ" + secrets.token_hex(10).upper()}, status_code=201)

    app = Starlette(routes=[Route("/rest/v1/{custNr}/fax", accept, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        for _ in range(3000):  # up to 30 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"bare: listening on http://127.0.0.1:{port}", flush=True)
        await task

    asyncio.run(serve())


# --- load -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    accepted: int
    refused: int
    seconds: float
    latencies_ms: list[float]

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def row(self) -> str:
        return (
            f"| {self.name} | {self.accepted / self.seconds:,.0f} | "
            f"{statistics.median(self.latencies_ms):.1f} | {self.percentile(0.99):.1f} | "
            f"{self.refused} |"
        )


async def load(
    name: str, url: str, auth: str, *, clients: int, seconds: float, warmup: float
) -> Result:
    body = job_body()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    latencies: list[float] = []
    counts = {"accepted": 0, "refused": 0}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        measuring_from = loop.time() + warmup
        end = measuring_from + seconds

        async def client() -> None:
            while loop.time() < end:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
                if loop.time() >= measuring_from:
                    latencies.append((time.perf_counter() - started) * 1000)
                    counts["accepted" if status == 201 else "refused"] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return Result(name, counts["accepted"], counts["refused"], seconds, latencies)


async def start(*command: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, list[str]]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not any(LISTENING.search(line) for line in lines) or (
            "faxpush" in command[2] and not any("Read its report" in x for x in lines)
        ):
            raw = await process.stdout.readline()
            if not raw:
                raise SystemExit(f"server exited early: {lines}")
            lines.append(raw.decode().rstrip())
    return process, lines


async def main_async(seconds: float, clients: int, warmup: float) -> list[Result]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_LOG_LEVEL"] = "WARNING"
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        command = (
            sys.executable, "-m", "faxpush.cli.serve", "--port", "0", "--sim-speed", "0",
            "--database-url", f"sqlite:///{Path(workdir) / 'bench.db'}",
        )  # fmt: skip
        process, lines = await start(*command, env=env)
        try:
            text = "\n".join(lines)
            url_match, created = LISTENING.search(text), CREATED.search(text)
            assert url_match is not None
            assert created is not None
            customer, login, password = created.groups()
            auth = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
            url = f"{url_match.group(1)}/rest/v1/{customer}/fax"
            results.append(
                await load(
                    "faxpush serve (SQLite)",
                    url,
                    auth,
                    clients=clients,
                    seconds=seconds,
                    warmup=warmup,
                )
            )
        finally:
            process.terminate()
            await process.wait()
    process, lines = await start(sys.executable, __file__, "--bare-server", env=env)
    try:
        url_match = LISTENING.search("\n".join(lines))
        assert url_match is not None
        url = f"{url_match.group(1)}/rest/v1/99999TE/fax"
        results.append(
            await load(
                "bare Starlette (JSON parse only)",
                url,
                "Basic eDp5",
                clients=clients,
                seconds=seconds,
                warmup=warmup,
            )
        )
    finally:
        process.terminate()
        await process.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        run_bare_server()
        return
    results = asyncio.run(main_async(args.seconds, args.clients, args.warmup))
    print(f"POST /fax, 1 recipient + 1-page PDF, {args.clients} clients, {args.seconds:g} s\n")
    print("| server | accepted jobs/s | p50 ms | p99 ms | non-201 |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
