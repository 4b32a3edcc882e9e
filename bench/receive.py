"""Receiver throughput under wrk: the faxpush receiver app next to a bare ASGI app.

Both run on uvicorn with httptools, one process each, in turn, on the same port settings;
wrk (the Debian package) POSTs the full golden report to them over 127.0.0.1. The receiver
checks HTTP Basic credentials, parses the body and stores every push in a SQLite inbox
(WAL, synchronous=FULL, group commit) before answering; each request carries its own
delivery id, so every push is a new row. The bare app reads the body and answers 200.

Two more apps, the *floors* (``receive_floor.py``), do the least any receiver must: check the
credentials, decode the body, build the report model (the *store floor* skips this), store it
as durably as the inbox does, answer. Their ratios bound the receiver's from above on this
machine, in the same run.

    python bench/receive.py                 # XML and JSON, 5 s each
    python bench/receive.py --json          # last line: {"req_per_s", "baseline_req_per_s",
                                            #              "ratio", ...} (XML), plus "json"
    python bench/receive.py --serve receiver --port-file F   # (internal) one server

Without wrk on the PATH it prints why and exits 0 (skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "spec_samples"
USER, PASSWORD = "bench", "bench-secret"
TARGETS = {"xml": 0.35, "json": 0.5}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def bare_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Reads the request body and answers 200: the most an ASGI app can do on this server."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def serve(kind: str, port_file: Path, inbox_dir: Path, inbox_kind: str = "sqlite") -> None:
    """Run one server until SIGTERM, writing its port to ``port_file`` once listening."""
    from pydantic_core import from_json

    from faxpush.heap import settle_heap
    from faxpush.receiver import BasicVerifier, PushReceiver, create_app
    from faxpush.receiver.serve import bind, server_for
    from receive_floor import FloorApp

    app: Any
    if kind == "bare":
        app = bare_app
    elif kind in ("floor", "store-floor"):
        fields = from_json((SAMPLES / "report-full.json").read_bytes())
        validated = fields if kind == "floor" else None
        app = FloorApp(inbox_dir / "floor.db", USER, PASSWORD, xml_fields=validated)
    else:
        receiver = PushReceiver(
            verifier=BasicVerifier({USER: PASSWORD}),
            inbox="memory://" if inbox_kind == "memory" else f"sqlite:///{inbox_dir / 'inbox.db'}",
        )
        app = create_app(receiver)
    sock = bind("127.0.0.1", 0)
    server = server_for(app)  # the same server settings for both apps

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # uvicorn offers no event for this  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        settle_heap()  # every app alike, as `faxpush listen` does once it has started
        port = str(sock.getsockname()[1])
        await asyncio.to_thread(port_file.write_text, port)
        await task

    asyncio.run(main())


_LUA = """
wrk.method = "POST"
wrk.body = io.open("{body}", "rb"):read("*a")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, {{
    ["Content-Type"] = "{content_type}",
    ["Authorization"] = "{authorization}",
    ["Faxpush-Delivery-Id"] = "{prefix}-" .. counter,
  }}, nil)
end
"""


def _start_server(
    kind: str, workdir: Path, cpu: int | None, inbox: str
) -> tuple[subprocess.Popen[bytes], int]:
    port_file = workdir / f"{kind}.port"
    command = [sys.executable, __file__, "--serve", kind, "--port-file", str(port_file)]
    command += ["--inbox-dir", str(workdir), "--inbox", inbox]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {kind} server did not start")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), or 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    url: str, script: Path, seconds: float, connections: int, cpu: int | None
) -> tuple[float, int]:
    """(requests per second, requests) of one wrk run (one wrk thread: the script's
    delivery ids are unique within the run)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = re.search(r"Socket errors: (.*)", done.stdout)
    if bad or errors:
        raise SystemExit(f"the server answered errors under load:\n{done.stdout}")
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    count = re.search(r"(\d+) requests in", done.stdout)
    if rate is None or count is None:
        raise SystemExit(f"cannot read wrk's output:\n{done.stdout}")
    return float(rate.group(1)), int(count.group(1))


def measure(fmt: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Requests per second of the bare app and of the receiver for one body format."""
    import base64

    body = SAMPLES / f"report-full.{fmt}"
    content_type = "text/xml; charset=UTF-8" if fmt == "xml" else "application/json"
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def script(run: str) -> Path:
        # Each run gets its own delivery ids: wrk seeds Lua's random numbers the same way
        # every time, so a shared script would resend the warm-up's ids as duplicates.
        path = workdir / f"{fmt}-{run}.lua"
        path.write_text(
            _LUA.format(body=body, content_type=content_type, authorization=basic, prefix=run)
        )
        return path

    server_cpu, client_cpu = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
    rates: dict[str, float] = {}
    cpu_us: dict[str, float] = {}
    for kind in ("bare", "store-floor", "floor", "receiver"):
        rundir = workdir / f"{fmt}-{kind}"
        rundir.mkdir()
        process, port = _start_server(kind, rundir, server_cpu, args.inbox)
        try:
            url = f"http://127.0.0.1:{port}/fax/status"
            _wrk(url, script(f"{kind}-warmup"), args.warmup, args.connections, client_cpu)
            before = _cpu_seconds(process.pid)
            measured = script(f"{kind}-measured")
            rates[kind], count = _wrk(url, measured, args.seconds, args.connections, client_cpu)
            cpu_us[kind] = (_cpu_seconds(process.pid) - before) / max(count, 1) * 1e6
        finally:
            _stop(process)
    return {
        "req_per_s": round(rates["receiver"], 1),
        "baseline_req_per_s": round(rates["bare"], 1),
        "ratio": round(rates["receiver"] / rates["bare"], 3),
        "target_ratio": TARGETS[fmt],
        # The least any receiver must do here (receive_floor.py): an upper bound on "ratio";
        # the store floor leaves out building the report model.
        "floor_req_per_s": round(rates["floor"], 1),
        "floor_ratio": round(rates["floor"] / rates["bare"], 3),
        "store_floor_req_per_s": round(rates["store-floor"], 1),
        "store_floor_ratio": round(rates["store-floor"] / rates["bare"], 3),
        # Server CPU per request: steadier than req/s when other work shares the machine.
        "cpu_us_per_req": round(cpu_us["receiver"], 1),
        "baseline_cpu_us_per_req": round(cpu_us["bare"], 1),
        "floor_cpu_us_per_req": round(cpu_us["floor"], 1),
        "store_floor_cpu_us_per_req": round(cpu_us["store-floor"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--format", choices=["xml", "json", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--inbox",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="the receiver's inbox (memory: to see the cost of storing)",
    )
    parser.add_argument(
        "--serve", choices=["bare", "store-floor", "floor", "receiver"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inbox-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port_file, args.inbox_dir, args.inbox)
        return
    if shutil.which("wrk") is None:
        reason = "wrk is not installed (Debian: apt-get install wrk); benchmark skipped"
        print(json.dumps({"skipped": reason}) if args.json else reason)
        return
    formats = ["xml", "json"] if args.format == "both" else [args.format]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="faxpush-bench-") as tmp:
        for fmt in formats:
            results[fmt] = measure(fmt, args, Path(tmp))
            r = results[fmt]
            verdict = "ok" if r["ratio"] >= r["target_ratio"] else "BELOW TARGET"
            print(
                f"{fmt.upper():4}  receiver {r['req_per_s']:>9.1f} req/s   bare ASGI "
                f"{r['baseline_req_per_s']:>9.1f} req/s   ratio {r['ratio']:.3f} "
                f"(target >= {r['target_ratio']}) {verdict}; server CPU per request "
                f"{r['cpu_us_per_req']:.0f} us vs {r['baseline_cpu_us_per_req']:.0f} us\n"
                f"      floor    {r['floor_req_per_s']:>9.1f} req/s   ratio {r['floor_ratio']:.3f} "
                f"({r['floor_cpu_us_per_req']:.0f} us): the least any receiver must do\n"
                f"      store floor {r['store_floor_req_per_s']:>6.1f} req/s   ratio "
                f"{r['store_floor_ratio']:.3f} ({r['store_floor_cpu_us_per_req']:.0f} us): "
                "the same without the report model",
                flush=True,
            )
    if args.json:
        head = results[formats[0]]
        print(json.dumps({**head, "format": formats[0], "by_format": results}))


if __name__ == "__main__":
    main()
