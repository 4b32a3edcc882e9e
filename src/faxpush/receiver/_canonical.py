"""What both fast readers share: declining, and the canonical spelling of a timestamp."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

# [0-9], not \d: that would also match other scripts' digits.
STAMP: Final = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
_STAMP: Final = re.compile(STAMP)


class DeclineError(Exception):
    """The body is not in the canonical form: let the core codecs read it."""


def utc_datetime(text: str) -> datetime:
    """A timestamp already known to be spelled as ``STAMP``, as the core reads it (aware,
    UTC); a day or hour out of range declines (the core words that error)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise DeclineError from None


def timestamp(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SSZ`` as the core reads it, else decline."""
    if _STAMP.fullmatch(text) is None:
        raise DeclineError
    return utc_datetime(text)


__all__ = ["STAMP", "DeclineError", "timestamp", "utc_datetime"]
