"""How long a request may take to arrive and how many connections a server keeps open.

Plain data and arithmetic, no uvicorn: the apps (whose own body deadline uses the default
here) and the settings can use it without the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from faxpush.core.settings import Settings

DEFAULT_HEADER_TIMEOUT: Final = 10.0
DEFAULT_BODY_TIMEOUT: Final = 30.0
MAX_CONNECTIONS_CAP: Final = 1000


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How long a request may take to arrive, and how many connections may be open.

    ``header_timeout``: seconds from the connection (or the request's first byte on a
    kept-alive connection) to the end of the request head; ``body_timeout``: seconds from
    the head to the end of the body; ``max_connections``: open HTTP connections, beyond
    which new ones are answered 503.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = MAX_CONNECTIONS_CAP


def open_file_limit() -> int | None:
    """The process's soft limit on open files, or None when there is none to read."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def default_max_connections(file_limit: int | None) -> int:
    """A connection limit that leaves descriptors for the inbox, logs and the listening
    socket: an eighth of the open-file limit (at least 32) is kept back."""
    if file_limit is None:
        return MAX_CONNECTIONS_CAP
    return max(1, min(MAX_CONNECTIONS_CAP, file_limit - max(32, file_limit // 8)))


def server_limits(settings: Settings) -> ServerLimits:
    """The read deadlines and connection limit of ``faxpush serve`` and ``faxpush admin``,
    from the ``serve_*`` settings (no connection limit set: :func:`default_max_connections`)."""
    return ServerLimits(
        header_timeout=settings.serve_header_timeout,
        body_timeout=settings.serve_body_timeout,
        max_connections=settings.serve_max_connections
        or default_max_connections(open_file_limit()),
    )


def describe_limits(limits: ServerLimits, file_limit: int | None) -> str:
    """One line for a banner; says so when the connection limit cannot fit the file limit."""
    text = (
        f"headers within {limits.header_timeout:g} s, body within {limits.body_timeout:g} s, "
        f"at most {limits.max_connections} connections"
    )
    if file_limit is not None and limits.max_connections > file_limit - 32:
        text += (
            f" (more than the open-file limit of {file_limit} allows: accepting will fail "
            "before the limit is reached)"
        )
    return text


__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "MAX_CONNECTIONS_CAP",
    "ServerLimits",
    "default_max_connections",
    "describe_limits",
    "open_file_limit",
    "server_limits",
]
