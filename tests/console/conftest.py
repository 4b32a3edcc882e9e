"""Fixtures of the console tests: the browser (see :mod:`tests.console.browser`)."""

from tests.console.browser import browser, page, watched

__all__ = ["browser", "page", "watched"]
