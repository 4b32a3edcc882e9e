"""``make run``: the demo serves, sends its sample job and prints the push that arrives."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from faxpush.emulator.demo import run_demo


async def test_the_demo_shows_a_job_accepted_dialled_and_pushed(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = asyncio.Event()

    await asyncio.wait_for(
        run_demo(
            port=0,
            workdir=tmp_path,
            out=out,
            stop=stop,
            handle_signals=False,
            on_push=stop.set,
            speed=0.01,
        ),
        timeout=60,
    )

    text = out.getvalue()
    assert "faxpush serve: listening on http://127.0.0.1:" in text
    assert "created customer number 99999TE with login demo" in text
    assert ">> sample job sent: 201" in text
    assert "+12015551000 PENDING" in text
    assert "+12125550101 OK (via 0012125551000)" in text  # busy, then its alternative number
    assert "<< push received: POST /fax/status" in text
    assert "Content-Type: text/xml; charset=UTF-8" in text
    assert "<alternativeNumber>+12125551000</alternativeNumber>" in text
    assert "<pages>2</pages>" in text
    assert "keeps serving" in text
