"""A real headless Chromium for the console and ``listen --ui`` tests, driven by Playwright.

Playwright does not download its own browser here: it drives the system's Chromium (Debian's
``chromium`` package, ``/usr/bin/chromium``; FAXPUSH_TEST_CHROMIUM names another binary).
When no browser starts, the tests fail with how to install one: they never skip.

One browser serves each test module (Playwright's sync driver leaves its event loop marked
as running in this thread while it lives, so it must be gone before the async tests of other
modules run); each test gets a fresh context (no cookies shared), whose page fails the test
on any JavaScript dialog or uncaught page error.

Screenshots: with FAXPUSH_SCREENSHOTS=DIR (e.g. ``docs/images``, relative to the repository)
:func:`screenshot` saves each page as DIR/NAME.png; without it, it does nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CHROMIUM = "/usr/bin/chromium"
HOW_TO_INSTALL = (
    "install Debian's Chromium with 'apt-get install -y chromium' (as root; .ci/run does it "
    "in CI) and Playwright with \"pip install -e '.[test]'\", or set FAXPUSH_TEST_CHROMIUM "
    "to a Chromium or Chrome binary"
)
WAIT_MS = 5_000


def chromium_path() -> str:
    """The browser binary to drive: FAXPUSH_TEST_CHROMIUM, else chromium on the PATH."""
    named = os.environ.get("FAXPUSH_TEST_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser") or DEFAULT_CHROMIUM


@dataclass
class Watched:
    """A page, with the dialogs and uncaught errors seen on it."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _on_dialog(watched: Watched, dialog: Dialog) -> None:
    watched.dialogs.append(f"{dialog.type}: {dialog.message}")
    dialog.dismiss()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.fail(f"the browser tests need Playwright ({exc}); {HOW_TO_INSTALL}", pytrace=False)
    executable = chromium_path()
    driver = sync_playwright().start()
    try:
        launched = driver.chromium.launch(executable_path=executable, timeout=30_000)
    except Error as exc:
        driver.stop()
        why = (str(exc).strip() or repr(exc)).splitlines()[0]
        message = f"cannot start a browser at {executable} ({why}); {HOW_TO_INSTALL}"
    else:
        try:
            yield launched
        finally:
            launched.close()
            driver.stop()
        return
    pytest.fail(message, pytrace=False)


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    seen = Watched(page)
    page.on("dialog", lambda dialog: _on_dialog(seen, dialog))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield seen
    finally:
        context.close()
    assert seen.dialogs == [], f"a JavaScript dialog opened: {seen.dialogs}"
    assert seen.errors == [], f"the page's script failed: {seen.errors}"


@pytest.fixture
def page(watched: Watched) -> Page:
    return watched.page


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save the page (or only the window, for long lists) as NAME.png in
    FAXPUSH_SCREENSHOTS; nothing when it is not set."""
    folder = os.environ.get("FAXPUSH_SCREENSHOTS")
    if not folder:
        return
    target = Path(folder) if Path(folder).is_absolute() else REPO / folder
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=full_page, animations="disabled")


__all__ = ["Watched", "browser", "chromium_path", "page", "screenshot", "watched"]
