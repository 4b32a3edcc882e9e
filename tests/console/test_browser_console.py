"""The operator console of ``faxpush serve`` (at /admin/) in a real browser: a job sent
through the REST API shows up with its push, a retried push is redelivered from its page,
hostile values stay text, and forms and pages refuse what has no session or CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import screenshot
from tests.console.serving import (
    ACCOUNT,
    ACCOUNT_SECRET,
    PASSWORD,
    USER,
    Answer,
    Console,
    Receiver,
    receiver,
)

APPEARS_MS = 5_000
HOSTILE_BODY = b"<script>alert(1)</script>"
HOSTILE_REFERENCE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def log_in(page: Page, console: Console, *, token: str | None = None) -> None:
    page.goto(f"{console.base}/login")
    if token is None:
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
    else:
        page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("who")).to_be_visible()


def open_push(page: Page, console: Console, job_id: str) -> None:
    page.goto(f"{console.base}/pushes?jobId={job_id}")
    page.get_by_test_id("push-row").get_by_role("link").click()
    expect(page.get_by_test_id("push-job-id")).to_have_text(job_id)


def state_becomes(page: Page, state: str, within_ms: int = APPEARS_MS) -> None:
    """Reload the push page until its state is ``state`` (its summary is not refreshed
    live; its attempts are)."""
    shown = page.get_by_test_id("push-state")
    for _ in range(within_ms // 250):
        if shown.inner_text() == state:
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(shown).to_have_text(state, timeout=250)


def test_a_job_and_its_push_appear_then_the_push_shows_its_attempt(
    page: Page, console: Console, hooks: Receiver
) -> None:
    log_in(page, console)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    page.get_by_test_id("nav-pushes").click()
    rows = page.get_by_test_id("push-row")
    job_id = console.submit_job(hooks.url("/fax/ok"), reference="invoice-2026-12")
    # the open page refreshes its rows by itself: no reload
    row = rows.filter(has_text=job_id)
    expect(row).to_have_count(1, timeout=APPEARS_MS)
    expect(row.get_by_test_id("push-state")).to_have_text("delivered", timeout=APPEARS_MS)
    page.get_by_test_id("nav-jobs").click()
    job = page.get_by_test_id("job-row").filter(has_text=job_id)
    expect(job).to_have_count(1, timeout=APPEARS_MS)
    screenshot(page, "console-jobs")
    job.get_by_test_id("job-push").click()
    expect(page.get_by_test_id("push-job-id")).to_have_text(job_id)
    expect(page.get_by_test_id("push-state")).to_have_text("delivered")
    attempt = page.get_by_test_id("attempt")
    expect(attempt).to_have_count(1)
    expect(attempt.get_by_test_id("attempt-status")).to_have_text("200")
    expect(page.get_by_test_id("push-body")).to_contain_text("invoice-2026-12")
    page.get_by_test_id("nav-overview").click()
    expect(page.get_by_test_id("delivered-hour")).not_to_have_text("0")
    page.get_by_test_id("nav-receivers").click()
    expect(page.get_by_test_id("receiver-row").filter(has_text=hooks.origin)).to_have_count(1)
    page.get_by_test_id("nav-accounts").click()
    account = page.get_by_test_id("account-row").filter(has_text=ACCOUNT)
    expect(account).to_contain_text("https://hooks.example.org/fax")
    expect(account.get_by_test_id("account-credentials")).to_contain_text("(set)")
    assert ACCOUNT_SECRET not in page.content()
    screenshot(page, "console-accounts")


def test_a_retried_push_that_failed_is_redelivered_from_its_page(
    page: Page, console: Console, hooks: Receiver
) -> None:
    path = "/fax/flaky"
    down = Answer(500, b'{"error":"down for maintenance"}')
    hooks.script(path, down, down)  # both attempts the schedule allows, then 200
    job_id = console.submit_job(hooks.url(path))
    log_in(page, console, token=console.write_token)
    open_push(page, console, job_id)
    attempts = page.get_by_test_id("attempt")
    state_becomes(page, "failed")
    expect(attempts).to_have_count(2)
    expect(attempts.get_by_test_id("attempt-status")).to_have_text(["500", "500"])
    expect(attempts.first).to_contain_text("down for maintenance")
    page.get_by_test_id("redeliver").click()
    expect(page.get_by_test_id("action-done")).to_contain_text("Queued again")
    # the attempts refresh by themselves while the page is open
    expect(attempts).to_have_count(3, timeout=APPEARS_MS)
    expect(attempts.first.get_by_test_id("attempt-status")).to_have_text("200")
    state_becomes(page, "delivered")
    screenshot(page, "console-push")


def test_hostile_values_are_shown_as_text(page: Page, console: Console, hooks: Receiver) -> None:
    path = "/fax/hostile"
    hooks.script(path, Answer(200, HOSTILE_BODY, "text/html"))
    job_id = console.submit_job(hooks.url(path), reference=HOSTILE_REFERENCE)
    log_in(page, console)
    open_push(page, console, job_id)
    attempt = page.get_by_test_id("attempt")
    expect(attempt).to_have_count(1, timeout=APPEARS_MS)
    page.reload()  # the attempt as drawn by the server, not only by the refresh
    expect(attempt.get_by_test_id("attempt-body")).to_have_text(HOSTILE_BODY.decode())
    # the XML report escapes it once; the page shows that text as it was sent
    escaped = HOSTILE_REFERENCE.replace("<", "&lt;").replace(">", "&gt;")
    expect(page.get_by_test_id("push-body")).to_contain_text(escaped)
    expect(page.locator("main img")).to_have_count(0)
    page.get_by_test_id("nav-jobs").click()
    expect(page.get_by_test_id("job-row").filter(has_text=job_id)).to_have_count(1)
    # the same report pushed as JSON carries the value raw: still text on the page
    report = {
        "jobId": "HOSTILE-JSON",
        "faxRecipients": [{"number": "+4930123456", "status": "OK"}],
        "options": {"customerDefinedId": HOSTILE_REFERENCE},
    }
    target = {"targetUrl": hooks.url(path), "format": "json"}
    hooks.script(path, Answer(200, HOSTILE_BODY, "text/html"))
    answer = console.api("POST", "/pushes", json={"report": report, "target": target})
    assert answer.status_code == 202, answer.text
    open_push(page, console, "HOSTILE-JSON")
    expect(page.get_by_test_id("push-body")).to_contain_text(HOSTILE_REFERENCE)
    expect(page.get_by_test_id("attempt")).to_have_count(1, timeout=APPEARS_MS)
    page.reload()
    expect(page.get_by_test_id("attempt-body")).to_have_text(HOSTILE_BODY.decode())
    expect(page.locator("main img")).to_have_count(0)
    page.goto(f"{console.base}/pushes?jobId=HOSTILE-JSON")
    expect(page.get_by_test_id("push-row")).to_have_count(1)
    page.get_by_test_id("nav-receivers").click()
    expect(page.get_by_test_id("receivers-table")).to_be_visible()
    # the page's "dialog" listener (tests.console.browser) fails the test on any alert


def test_pages_need_a_session_and_forms_their_csrf_token(
    page: Page, console: Console, hooks: Receiver
) -> None:
    for path in ("/", "/pushes", "/receivers", "/jobs", "/accounts", "/pushes/x"):
        page.goto(console.base + path)
        expect(page).to_have_url(re.compile(re.escape(f"{console.base}/login?next=")))
        expect(page.get_by_test_id("login-submit")).to_be_visible()
    screenshot(page, "console-login")
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()

    job_id = console.submit_job(hooks.url("/fax/csrf"))
    log_in(page, console)
    open_push(page, console, job_id)
    state_becomes(page, "delivered")
    # the browser's own form, with its CSRF token taken out
    page.locator("#redeliver-form input[name=csrf]").evaluate("input => input.remove()")
    page.get_by_test_id("redeliver").click()
    expect(page.locator("main")).to_contain_text("security token")
    # the same POST straight from the logged-in browser context: refused, nothing queued
    action = f"{console.base}/pushes/{page_delivery_id(page, console, job_id)}/redeliver"
    forms: list[dict[str, str | float | bool]] = [{}, {"csrf": "forged"}]
    for form in forms:
        refused = page.request.post(action, form=form, max_redirects=0)
        assert refused.status == 403, refused.text()
    open_push(page, console, job_id)
    expect(page.get_by_test_id("attempt")).to_have_count(1)
    expect(page.get_by_test_id("push-state")).to_have_text("delivered")


def page_delivery_id(page: Page, console: Console, job_id: str) -> str:
    open_push(page, console, job_id)
    return page.get_by_test_id("push-id").inner_text()
