"""Parse a push body by its Content-Type: the default XML and JSON layouts, or a mapping.

Only ``text/xml``, ``application/xml`` and ``application/json`` are accepted
(:class:`~faxpush.receiver.errors.UnsupportedMediaTypeError` otherwise, answered 415). The
core codecs do the work (after a fast path for bodies in exactly the canonical layout, which
declines everything else to them), with their strictness and limits: DTDs and entities are refused,
JSON nesting and body size are bounded, and every problem is a
:class:`~faxpush.core.errors.ReportFormatError` (answered 400).
"""

from __future__ import annotations

from typing import Final

from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import DEFAULT_MAX_REPORT_BYTES, ReportFormat, parse_report
from faxpush.core.json_codec import load_json_object
from faxpush.core.models import FaxJobReport
from faxpush.receiver.errors import BodyTooLargeError, UnsupportedMediaTypeError
from faxpush.receiver.fastpath import fast_json, fast_xml
from faxpush.receiver.mapping import ReverseMapping

XML_MEDIA_TYPES: Final = frozenset({"text/xml", "application/xml"})
JSON_MEDIA_TYPES: Final = frozenset({"application/json"})
ACCEPTED_MEDIA_TYPES: Final = tuple(sorted(XML_MEDIA_TYPES | JSON_MEDIA_TYPES))


def media_type(content_type: str | None) -> str:
    """``Text/XML; charset=UTF-8`` -> ``text/xml``; empty when there is no header."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def body_format(content_type: str | None) -> ReportFormat:
    """The layout a Content-Type announces; raises UnsupportedMediaTypeError otherwise."""
    kind = media_type(content_type)
    if kind in XML_MEDIA_TYPES:
        return ReportFormat.XML
    if kind in JSON_MEDIA_TYPES:
        return ReportFormat.JSON
    shown = repr(kind[:60]) if kind else "none"
    raise UnsupportedMediaTypeError(
        f"Content-Type {shown} is not accepted; send the push as {', '.join(ACCEPTED_MEDIA_TYPES)}"
    )


def parse(
    body: bytes,
    content_type: str | None,
    *,
    mapping: ReverseMapping | None = None,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> FaxJobReport:
    """The report in ``body``, read as ``content_type`` says.

    With ``mapping``, the body is a customer's individual layout read through that reverse
    mapping; without, one of the default layouts. Raises
    :class:`UnsupportedMediaTypeError`, :class:`BodyTooLargeError` or
    :class:`ReportFormatError`; nothing else.
    """
    fmt = body_format(content_type)
    if len(body) > max_bytes:
        raise BodyTooLargeError(
            f"the body is {len(body)} bytes, more than the limit of {max_bytes}"
        )
    try:
        if mapping is None:
            fast = fast_xml(body) if fmt is ReportFormat.XML else fast_json(body)
            return fast if fast is not None else parse_report(body, fmt, max_bytes=max_bytes)
        if fmt is ReportFormat.XML:
            return mapping.read_xml(body)
        return mapping.read_json(load_json_object(body, max_bytes=max_bytes))
    except ReportFormatError as exc:
        raise exc.with_source("<request>") from None
    except RecursionError:  # belt and braces: the codecs bound nesting themselves
        raise ReportFormatError("the body is nested too deeply", source="<request>") from None


__all__ = ["ACCEPTED_MEDIA_TYPES", "body_format", "media_type", "parse"]
