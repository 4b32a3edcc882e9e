"""Stop a long-running command gracefully on SIGTERM or SIGINT.

Shared by the worker (:func:`faxpush.delivery.worker.run_worker`) and the emulator server
(:func:`faxpush.emulator.serve.run_server`): the signal only sets an event, and the owner of
the event drains its work before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the worker stops claiming and drains gracefully.

    Call it from the running loop. Where the loop cannot handle signals (not the main thread,
    or a platform without ``add_signal_handler``) nothing is installed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


__all__ = ["install_stop_signals"]
