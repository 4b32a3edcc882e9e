"""One entry point for every report format: detect it, parse it, render it.

Three formats carry a fax job report: the default XML and JSON push layouts (spec §2, §3) and
the REST API's report view (spec §7). Detection looks at the content only, never at a file
name or a Content-Type header, which senders often get wrong.
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from typing import Any, Final

from faxpush.core.errors import ReportFormatError
from faxpush.core.json_codec import (
    DEFAULT_MAX_BYTES,
    JSON_CONTENT_TYPE,
    load_json_object,
    render_json,
    report_from_mapping,
)
from faxpush.core.models import FaxJobReport
from faxpush.core.rest_view import from_rest_report, render_rest_json
from faxpush.core.xml_codec import XML_CONTENT_TYPE, parse_xml, render_xml

__all__ = [
    "DEFAULT_MAX_REPORT_BYTES",
    "ReportFormat",
    "detect_format",
    "parse_report",
    "render_report",
]

DEFAULT_MAX_REPORT_BYTES: Final = DEFAULT_MAX_BYTES
"""Largest report body accepted by default (1 MiB): thousands of recipients fit easily."""


class ReportFormat(StrEnum):
    """The formats a report comes in."""

    XML = "xml"
    JSON = "json"
    REST = "rest"

    @property
    def content_type(self) -> str:
        """The Content-Type header for a body in this format."""
        return XML_CONTENT_TYPE if self is ReportFormat.XML else JSON_CONTENT_TYPE


# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WHITESPACE: Final = b" \t\r\n"
_SNIFF_CHARS: Final = 4096


def _first_char(data: bytes) -> tuple[str, int] | None:
    """The first non-whitespace character and its line number, or ``None`` if there is none."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            head = data[len(bom) : len(bom) + 4 * _SNIFF_CHARS].decode(encoding, errors="ignore")
            stripped = head.lstrip(" \t\r\n")
            if not stripped:
                return None
            return stripped[0], head[: len(head) - len(stripped)].count("\n") + 1
    stripped_bytes = data.lstrip(_WHITESPACE)
    if not stripped_bytes:
        return None
    line = data[: len(data) - len(stripped_bytes)].count(b"\n") + 1
    # UTF-16 without a byte order mark: "\0<" (big endian); "<\0" already starts with "<".
    if stripped_bytes.startswith(b"\x00<"):
        return "<", line
    return chr(stripped_bytes[0]), line


def _is_rest_view(document: dict[str, Any]) -> bool:
    return "recipientStatus" in document and "faxRecipients" not in document


def _sniff(data: bytes) -> ReportFormat:
    """XML or JSON from the first character; REST is told apart only after decoding."""
    first = _first_char(data)
    if first is None:
        raise ReportFormatError("the input is empty; expected an XML or JSON report")
    char, line = first
    if char == "<":
        return ReportFormat.XML
    if char in "{[":  # an array is JSON too; the JSON parser says why it is not a report
        return ReportFormat.JSON
    shown = repr(char) if char.isprintable() else f"byte 0x{ord(char):02X}"
    raise ReportFormatError(
        f"not a report: expected XML (starting with '<') or a JSON object (starting with '{{'), "
        f"found {shown}",
        location=f"line {line}",
    )


def detect_format(data: bytes) -> ReportFormat:
    """Tell the format of ``data`` from its content.

    ``<`` (after an optional byte order mark and whitespace) is XML; ``{`` is JSON, and JSON
    with ``recipientStatus`` but no ``faxRecipients`` is the REST view. JSON that cannot be
    decoded counts as JSON, so that parsing it reports the actual problem.
    """
    fmt = _sniff(data)
    if fmt is ReportFormat.JSON:
        try:
            document = load_json_object(data, max_bytes=max(len(data), 1))
        except ReportFormatError:
            return fmt
        if _is_rest_view(document):
            return ReportFormat.REST
    return fmt


def parse_report(
    data: bytes,
    fmt: ReportFormat | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_REPORT_BYTES,
) -> FaxJobReport:
    """Parse a report in ``fmt``, or in the format detected from the content when ``None``.

    Any problem raises :class:`ReportFormatError` (``location`` tells where); inputs larger
    than ``max_bytes`` are refused before they are decoded.
    """
    if len(data) > max_bytes:
        raise ReportFormatError(
            f"the body is {len(data)} bytes, more than the limit of {max_bytes}; "
            "send a smaller report or raise the limit"
        )
    detected = fmt is None
    fmt = _sniff(data) if fmt is None else fmt
    if fmt is ReportFormat.XML:
        return parse_xml(data, max_bytes=max_bytes)
    document = load_json_object(data, max_bytes=max_bytes)
    # Only detection picks the REST view by itself; an explicit "json" is never overridden.
    if fmt is ReportFormat.REST or (detected and _is_rest_view(document)):
        return from_rest_report(document)
    return report_from_mapping(document)


def render_report(report: FaxJobReport, fmt: ReportFormat) -> tuple[bytes, str]:
    """Render ``report`` as ``(body, content type)``.

    XML and JSON are the default push layouts, byte for byte as the golden samples; REST is
    the REST API's report view, two-space indented UTF-8 JSON with a trailing newline.
    """
    if fmt is ReportFormat.XML:
        return render_xml(report), XML_CONTENT_TYPE
    if fmt is ReportFormat.JSON:
        return render_json(report), JSON_CONTENT_TYPE
    return render_rest_json(report), JSON_CONTENT_TYPE
