"""Serving a receiver app with uvicorn and httptools on a bound socket.

:func:`server_for` builds a server that closes requests arriving too slowly (408) and
answers connections over its limit with 503 (:class:`ServerLimits`); the same server runs
``faxpush listen``, ``faxpush serve`` and the demo. Importing this module imports uvicorn,
which is only needed to serve.
"""

from __future__ import annotations

from faxpush._serving.limits import ServerLimits
from faxpush._serving.server import QuietServer, bind, server_for

__all__ = ["QuietServer", "ServerLimits", "bind", "server_for"]
