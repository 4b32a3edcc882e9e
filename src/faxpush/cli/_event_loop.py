"""The ``--event-loop`` flag of the long-running commands and running a command on it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from faxpush import _loop
from faxpush.core.settings import EventLoop

T = TypeVar("T")

# ``faxpush listen`` reads no settings object, so the flag reads the variable itself; for
# ``worker`` and ``serve`` that gives the same value the settings would read.
EventLoopOption = Annotated[
    EventLoop | None,
    typer.Option(
        "--event-loop",
        case_sensitive=False,
        envvar="FAXPUSH_EVENT_LOOP",
        show_default=False,
        help="Event loop: auto (uvloop if installed, else asyncio's own), uvloop or asyncio "
        "(default auto).",
    ),
]


def run_on_loop(main: Callable[[], Coroutine[Any, Any, T]], choice: EventLoop | None) -> T:
    """``main()`` on the event loop ``choice`` names (None: auto), see :mod:`faxpush._loop`."""
    return _loop.run(main, choice or EventLoop.AUTO)


__all__ = ["EventLoopOption", "run_on_loop"]
