"""Reading a small input file (a PEM file, a push template) with a size limit.

At most ``limit + 1`` bytes are read, so an oversized file is refused without being held in
memory; failures become one line of the caller's error type naming the file.
"""

from __future__ import annotations

from pathlib import Path

from faxpush.core.errors import FaxpushError


def read_limited(path: str, what: str, *, limit: int, error: type[FaxpushError]) -> bytes:
    """The bytes of the file ``path``; ``what`` names it in the messages of ``error``."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{path}: the {what} is larger than {limit} bytes")
    return data


__all__ = ["read_limited"]
