"""Fixtures of the console tests: the browser (see :mod:`tests.console.browser`) and a
running ``faxpush serve`` with its console (:mod:`tests.console.serving`)."""

from tests.console.browser import browser, page, watched
from tests.console.serving import console

__all__ = ["browser", "console", "page", "watched"]
