"""Push and token URLs: the checks made before anything is sent, and their safe display.

:func:`check_http_url` is called where a URL enters faxpush (an account, ``faxpush push
send``, ``faxpush check-endpoint``) and again before each send; :func:`display_url` is the
form of a URL that messages and logs may show. :func:`legacy_ipv4` is shared with the
address guard (:mod:`faxpush.delivery.guard`), which refuses such hosts at resolution time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import IPv4Address

from yarl import URL

from faxpush.core.errors import ConfigurationError

_IPV4_NUMBER_CHARACTERS = frozenset("0123456789abcdefxABCDEFX.")
# One part of a numeric IPv4 host as C reads it (strtoul, base 0): hex, octal or decimal.
_C_NUMBER = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]+)|(?P<octal>0[0-7]*)|(?P<decimal>[1-9][0-9]*)")
# The largest last part after 0, 1, 2 or 3 one-byte parts (``a``, ``a.b``, ``a.b.c``, ``a.b.c.d``).
_LAST_PART_LIMITS = (0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF)


def check_http_url(url: str, *, role: str = "push URL") -> None:
    """Raise :class:`ConfigurationError` unless ``url`` is an absolute http(s) URL
    without user info (credentials belong in the push principal and credentials)."""
    problem = _url_problem(url, role)
    if problem is not None:
        raise ConfigurationError(problem)


@lru_cache(maxsize=4096)  # pushes repeat a few receiver URLs: parse each once
def _url_problem(url: str, role: str) -> str | None:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return f"the {role} is not a valid URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"the {role} {display_url(url)} must be an absolute http:// or https:// URL"
    if parsed.user is not None or parsed.password is not None:
        return (
            f"the {role} {display_url(url)} contains user info; put the credentials in the "
            "push principal and credentials instead"
        )
    legacy = legacy_ipv4(parsed.raw_host or "")
    if legacy is not None:
        return (
            f"the {role} {display_url(url)} writes its host as a legacy numeric IPv4 form; "
            f"write the address as {legacy}"
        )
    return None


@lru_cache(maxsize=4096)  # one parse per receiver URL, not one per push
def display_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe for messages and logs."""
    try:
        parsed = URL(url)
        if not parsed.absolute:
            # No host, so no user info to remove, but ``user:pw@host`` (the slashes
            # forgotten) reads as a path: nothing up to an @ is shown.
            return url.partition("#")[0].partition("?")[0].rpartition("@")[2]
        return str(parsed.with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return "<invalid URL>"


def legacy_ipv4(host: str) -> IPv4Address | None:
    """The address ``host`` means when it is a legacy numeric IPv4 form (``127.1``,
    ``0x7f.1``, ``0177.0.0.1``, ``2130706433``, ``127.0.0.1.``), else None (a name, or an
    address written as four decimal numbers).

    The host is read as the C library's ``inet_aton`` reads it (what ``socket.inet_aton``
    answers on Linux, a test compares the two), written out here so that the core needs no
    socket module."""
    text = host.removesuffix(".")
    if not text or not set(text) <= _IPV4_NUMBER_CHARACTERS:
        return None
    value = _inet_aton(text)
    if value is None:
        return None
    address = IPv4Address(value)
    return None if str(address) == host else address


def _inet_aton(text: str) -> int | None:
    """``text`` as a 32-bit address in ``inet_aton``'s reading: one to four parts split by
    dots, each a C number; every part but the last is one byte, the last fills the rest."""
    parts = text.split(".")
    if len(parts) > len(_LAST_PART_LIMITS):
        return None
    values: list[int] = []
    for part in parts:
        match = _C_NUMBER.fullmatch(part)
        if match is None:
            return None
        if match["hex"] is not None:
            values.append(int(match["hex"], 16))
        elif match["octal"] is not None:
            values.append(int(match["octal"], 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(value > 0xFF for value in leading) or last > _LAST_PART_LIMITS[len(leading)]:
        return None
    address = last
    for position, value in enumerate(leading):
        address |= value << (24 - 8 * position)
    return address


__all__ = ["check_http_url", "display_url", "legacy_ipv4"]
