"""``faxpush listen --ui`` in a real browser: pushes sent with ``faxpush push send`` appear
on the open page without a reload, newest first, their values escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.console.browser import REPO, Watched, screenshot
from tests.receiver.cli import listen

SAMPLE = (REPO / "tests" / "data" / "spec_samples" / "report-full.xml").read_text()
HOSTILE_REASON = "<img src=x onerror=alert(1)>"


def _report(tmp_path: Path, job_id: str, reason: str = "BUSY") -> Path:
    text = SAMPLE.replace("FJ7QK2M9X40ABCDEFGH123", job_id)
    text = text.replace("<reason>BUSY</reason>", f"<reason>{_xml_text(reason)}</reason>")
    path = tmp_path / f"{job_id}.xml"
    path.write_text(text)
    return path


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _push_send(tmp_path: Path, url: str, report: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    env["FAXPUSH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'outbox.db'}"
    env["FAXPUSH_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    done = subprocess.run(
        [sys.executable, "-m", "faxpush.cli", "push", "send", url, str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_three_pushes_appear_live_in_order(tmp_path: Path, watched: Watched) -> None:
    page: Page = watched.page
    with listen(tmp_path, "--ui", "--inbox", "memory://") as listener:
        page.goto(listener.url("/"))
        expect(page.get_by_role("heading", name="Pushes received")).to_be_visible()
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#live-state")).to_contain_text("Live")
        pushes = page.get_by_test_id("push")
        jobs = ["LIVE-1", "LIVE-2", "LIVE-3"]
        for count, job in enumerate(jobs, start=1):
            reason = HOSTILE_REASON if count == 3 else "BUSY"
            _push_send(tmp_path, listener.url("/fax/status"), _report(tmp_path, job, reason))
            expect(pushes).to_have_count(count)
            expect(pushes.first.get_by_test_id("push-job")).to_have_text(job)
        expect(page.locator("#empty")).to_be_hidden()
        expect(pushes.get_by_test_id("push-job")).to_have_text(list(reversed(jobs)))
        expect(pushes.first).to_have_attribute("data-seq", "3")
        newest = pushes.first
        expect(newest.get_by_test_id("push-status")).to_have_text("200 stored")
        expect(newest.get_by_test_id("push-layout")).to_have_text("XML")
        expect(newest.get_by_test_id("push-verdict")).to_have_text("accepted: NONE")
        expect(newest.get_by_test_id("push-recipients")).to_contain_text(HOSTILE_REASON)
        body = newest.get_by_test_id("push-body")
        expect(body).to_be_hidden()
        newest.get_by_text("Headers and body").click()
        expect(body).to_be_visible()
        expect(body).to_contain_text("<jobId>LIVE-3</jobId>")
        expect(newest.locator("pre.headers")).to_contain_text("faxpush-delivery-id: ")
        expect(page.locator("img")).to_have_count(0)  # the hostile reason stayed text
        screenshot(page, "listen-ui")
        page.reload()  # drawn by the server alone, the same list
        expect(pushes.get_by_test_id("push-job")).to_have_text(list(reversed(jobs)))
    assert watched.dialogs == []
