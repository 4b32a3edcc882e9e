"""The console's Pushes page over 500 pushes in a real browser: its filters (state, job id,
receiver) narrow the table, and its keyset pages walk every match once, newest first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import screenshot
from tests.console.serving import Answer, Console, Receiver, receiver
from tests.console.test_browser_console import log_in

DELIVERED, FAILED = 300, 200
PAGE_SIZE = 50  # the console's page of pushes


@pytest.fixture(scope="module")
def bulk(console: Console) -> Iterator[tuple[Receiver, Receiver]]:
    """500 pushes queued in one batch: 300 to a receiver that takes them, 200 to one that
    answers 410 (failed at once)."""
    with receiver() as ok, receiver(Answer(410, b'{"error":"gone"}')) as gone:
        items = [
            {
                "report": {
                    "jobId": f"BULK-{n:03d}",
                    "faxRecipients": [{"number": "+4930123456", "status": "OK"}],
                },
                "target": {"targetUrl": (ok if n < DELIVERED else gone).url(f"/fax/{n}")},
            }
            for n in range(DELIVERED + FAILED)
        ]
        answer = console.api("POST", "/pushes/batch", json={"items": items})
        assert answer.status_code == 202, answer.text
        console.wait_settled()
        yield ok, gone


def _walk_pages(page: Page) -> list[str]:
    """Every delivery id from this page on, following "Older" to the last page."""
    seen: list[str] = []
    rows = page.get_by_test_id("push-row")
    for _ in range(20):
        seen += [rows.nth(i).get_attribute("data-delivery-id") or "" for i in range(rows.count())]
        older = page.get_by_test_id("next-page")
        if older.count() == 0:
            return seen
        assert rows.count() == PAGE_SIZE
        older.click()
        expect(page.get_by_test_id("first-page")).to_be_visible()
    raise AssertionError("more pages than expected")


def test_filters_and_pages_over_500_pushes(
    page: Page, console: Console, bulk: tuple[Receiver, Receiver]
) -> None:
    ok, gone = bulk
    log_in(page, console)
    page.goto(f"{console.base}/pushes")
    rows = page.get_by_test_id("push-row")
    expect(rows).to_have_count(PAGE_SIZE)

    page.get_by_test_id("filter-state").select_option("failed")
    page.get_by_test_id("filter-receiver").fill(gone.origin)
    page.get_by_test_id("filter-submit").click()
    expect(rows.get_by_test_id("push-state")).to_have_text(["failed"] * PAGE_SIZE)
    failed = _walk_pages(page)
    assert len(failed) == FAILED
    assert len(set(failed)) == FAILED

    page.goto(f"{console.base}/pushes?receiver={ok.origin}&state=delivered")
    delivered = _walk_pages(page)
    assert len(set(delivered)) == DELIVERED
    assert not set(delivered) & set(failed)

    page.goto(f"{console.base}/pushes?receiver={ok.origin}&state=failed")
    expect(page.get_by_test_id("no-pushes")).to_be_visible()

    page.goto(f"{console.base}/pushes")
    page.get_by_test_id("filter-job").fill("BULK-321")
    page.get_by_test_id("filter-submit").click()
    expect(rows).to_have_count(1)
    expect(rows.locator(".job-id")).to_have_text("BULK-321")
    expect(rows.get_by_test_id("push-state")).to_have_text("failed")
    expect(page.get_by_test_id("next-page")).to_have_count(0)

    page.get_by_test_id("filter-job").fill("")
    page.get_by_test_id("filter-since").fill("not a time")
    page.get_by_test_id("filter-submit").click()
    expect(page.locator("main")).to_contain_text("since must be a time")


def test_overview_and_receivers_after_500_pushes(
    page: Page, console: Console, bulk: tuple[Receiver, Receiver]
) -> None:
    ok, gone = bulk
    log_in(page, console)
    expect(page.get_by_test_id("failed-hour")).not_to_have_text("0")
    failing = page.get_by_test_id("failing-receivers")
    expect(failing.locator("tbody tr").first).to_contain_text(gone.origin)
    screenshot(page, "console-overview")
    page.get_by_test_id("nav-receivers").click()
    for origin in (ok.origin, gone.origin):
        expect(page.get_by_test_id("receiver-row").filter(has_text=origin)).to_have_count(1)
    screenshot(page, "console-receivers")
    page.get_by_test_id("receiver-row").filter(has_text=gone.origin).get_by_role(
        "link", name=gone.origin
    ).click()
    expect(page.get_by_test_id("filter-receiver")).to_have_value(gone.origin)
    expect(page.get_by_test_id("push-row")).to_have_count(PAGE_SIZE)
    page.get_by_test_id("nav-pushes").click()
    screenshot(page, "console-pushes", full_page=False)
