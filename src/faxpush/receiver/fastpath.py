"""A fast reader for pushes in exactly the canonical default layouts, or nothing.

Most pushes a receiver sees were rendered by a Fax4A sender in the canonical layout (the
golden samples' shape). For those, this module builds the same field dict the core codecs
build, with much cheaper readers (a regular grammar for XML, pydantic-core's decoder for
JSON; see ``_fastxml`` and ``_fastjson``), and validates it with the same function
(:func:`faxpush.core.validation.validate_report`). Whenever the input strays from the
canonical form (another namespace or element order, a REST spelling, an unknown element or
key, a padded number, ``null``, a DTD marker, an invalid value…) it *declines* by returning
``None``, and the caller parses with the core codecs, which then produce their result or
their precise error. So the fast path never accepts what the core refuses and never reads a
value differently; the differential tests in ``tests/receiver`` check that on generated
reports and on mutations of them.
"""

from __future__ import annotations

from faxpush.core.errors import ReportFormatError
from faxpush.core.models import FaxJobReport
from faxpush.core.validation import validate_report
from faxpush.receiver._canonical import DeclineError
from faxpush.receiver._fastjson import read_json
from faxpush.receiver._fastxml import read_xml


def fast_xml(body: bytes) -> FaxJobReport | None:
    """The report in a canonical XML body, or None (then parse it with the core codec)."""
    try:
        return validate_report(read_xml(body))
    except (DeclineError, ReportFormatError):
        return None


def fast_json(body: bytes) -> FaxJobReport | None:
    """The report in a canonical JSON body, or None (then parse it with the core codec)."""
    try:
        return validate_report(read_json(body))
    except (DeclineError, ReportFormatError):
        return None


__all__ = ["fast_json", "fast_xml"]
