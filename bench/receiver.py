"""A minimal push receiver for benchmarks: a bare ASGI app answering 200, on uvicorn+httptools.

Run as a separate process so the receiver does not share the event loop or the core with the
code under measurement:  python bench/receiver.py --port 0 --port-file /tmp/port
It counts requests per delivery id and, with --stats-file, writes the counts as JSON when it
is stopped (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

COUNTS: Counter[str] = Counter()
STATS_FILE: list[Path] = []  # set by main(); written at lifespan shutdown


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # uvicorn re-raises SIGTERM after shutdown, so write the counts here
                for path in STATS_FILE:
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(COUNTS))
                    tmp.replace(path)
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    for name, value in scope["headers"]:
        if name == b"faxpush-delivery-id":
            COUNTS[value.decode()] += 1
            break
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


@contextmanager
def receiver_process(stats_file: Path | None = None) -> Iterator[str]:
    """Run this receiver in its own process; yields its push URL, stops it on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        command = [sys.executable, str(Path(__file__).resolve()), "--port-file", str(port_file)]
        if stats_file is not None:
            command += ["--stats-file", str(stats_file)]
        proc = subprocess.Popen(command)
        try:
            deadline = time.monotonic() + 20
            while not port_file.exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the benchmark receiver did not start")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text()}/hook"
        finally:
            proc.terminate()
            proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--stats-file", type=Path)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)  # accept connections (into the backlog) before the port is announced
    config = uvicorn.Config(
        app, http="httptools", loop="auto", log_level="warning", access_log=False, backlog=2048
    )
    server = uvicorn.Server(config)
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.replace(args.port_file)
    if args.stats_file is not None:
        STATS_FILE.append(args.stats_file)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
