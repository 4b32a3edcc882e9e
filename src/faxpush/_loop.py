"""The event loop of the long-running commands: uvloop where it is installed.

``faxpush worker``, ``faxpush serve``, ``faxpush listen`` and the demo start their loop with
:func:`run`, choosing by the ``event_loop`` setting (``FAXPUSH_EVENT_LOOP``, ``--event-loop``):

* ``auto`` (default): uvloop when it can be imported (it comes with ``uvicorn[standard]``),
  else asyncio's own loop;
* ``uvloop``: uvloop, or a :class:`ConfigurationError` saying how to install it;
* ``asyncio``: asyncio's own loop, for a platform or a library that does not get along with
  uvloop.

Why: the same code does the same work on less CPU. In paired runs of ``bench/dispatch.py``
(``docs/benchmarks.md``, Event loop) the worker spent 7-10 % less CPU per push on uvloop
(149 -> 134 µs in the quietest session), and so did the bare aiohttp loop it is compared
with; its share of the bare loop's pushes/s did not change beyond the noise.

One difference shows: a server out of file descriptors. asyncio stops accepting for a second
and reports the failed accepts (throttled by ``_serving.throttle``); libuv accepts and closes
such connections at once on a descriptor it keeps in reserve, and nothing is reported.

The short commands (``push send``, ``pushes``, ``db``, ...) keep asyncio's loop: they do one
round of work and exit, and there is nothing to gain.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import EventLoop

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
LoopName = Literal["uvloop", "asyncio"]

logger = logging.getLogger("faxpush.loop")


def loop_factory(choice: EventLoop) -> LoopFactory | None:
    """uvloop's loop factory for ``choice``, or None for asyncio's own loop.

    Raises :class:`ConfigurationError` when ``choice`` is ``uvloop`` and it cannot be
    imported."""
    if choice is EventLoop.ASYNCIO:
        return None
    try:
        import uvloop  # optional: where it is installed
    except ImportError:
        if choice is EventLoop.UVLOOP:
            raise ConfigurationError(
                "the event loop is set to uvloop (FAXPUSH_EVENT_LOOP or --event-loop), but "
                "uvloop cannot be imported: install it (pip install uvloop; it comes with "
                "uvicorn[standard]), or choose auto or asyncio"
            ) from None
        return None
    return uvloop.new_event_loop


def loop_name(choice: EventLoop) -> LoopName:
    """The loop ``choice`` comes to on this machine (uvicorn's name for it)."""
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def running_loop_name() -> LoopName:
    """Which kind of loop is running in this thread."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.split(".")[0] == "uvloop" else "asyncio"


def run(main: Callable[[], Coroutine[Any, Any, T]], choice: EventLoop) -> T:
    """Run ``main()`` to completion on the loop ``choice`` comes to, as :func:`asyncio.run`
    does (Ctrl-C cancels it, the loop is closed afterwards), and log which loop at INFO.

    ``main`` is called only once the loop exists, so a configuration error leaves no
    coroutine behind that was never awaited."""
    factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        logger.info("event loop: %s (setting: %s)", _describe(runner.get_loop()), choice.value)
        return runner.run(main())


def _describe(loop: asyncio.AbstractEventLoop) -> str:
    if type(loop).__module__.split(".")[0] != "uvloop":
        return "asyncio"
    return f"uvloop {importlib.metadata.version('uvloop')}"


__all__ = ["LoopName", "loop_factory", "loop_name", "run", "running_loop_name"]
