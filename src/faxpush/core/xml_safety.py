"""lxml, hardened for untrusted bytes: no DTD, no entities, no file or network access.

Three lines of defence: bodies with a DOCTYPE or ENTITY declaration (in any of the encodings
XML may arrive in) are refused before parsing; the parser options forbid loading anything;
and a resolver fails should libxml2 still ask for an external resource.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from faxpush.core.errors import ReportFormatError, UnsafeXmlError

__all__ = ["parse_untrusted"]

_DTD_MARKERS = tuple(
    marker.encode(codec)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for codec in ("utf-8", "utf-16-le", "utf-16-be")
)
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")


class _ExternalFetchError(Exception):
    """Raised by the resolver: the parser tried to load a URL or a file."""


class _RefusingResolver(etree.Resolver):
    # Third line of defence: the parser options already forbid loading, and documents with a
    # DTD are refused up front; should libxml2 still ask for an external resource, fail.
    def resolve(self, system_url: str, public_id: str, context: object = None) -> Any:
        raise _ExternalFetchError(system_url or public_id or "an external resource")


def _new_parser(*, force_utf8: bool) -> etree.XMLParser:
    parser = etree.XMLParser(
        encoding="utf-8" if force_utf8 else None,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    parser.resolvers.add(_RefusingResolver())
    return parser


def _unsafe() -> UnsafeXmlError:
    return UnsafeXmlError(
        "DOCTYPE and ENTITY declarations are refused (they can expand without bound or read "
        "files and URLs); send the report without a DTD"
    )


def parse_untrusted(body: bytes, *, force_utf8: bool) -> etree._Element:
    """The root element of ``body``; DTDs, entities and external loads refused, errors named."""
    if any(marker in body for marker in _DTD_MARKERS):
        raise _unsafe()
    try:
        root = etree.fromstring(body, _new_parser(force_utf8=force_utf8))
    except _ExternalFetchError:
        raise _unsafe() from None
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        problem = " ".join(_POSITION_SUFFIX.sub("", (exc.msg or "syntax error").strip()).split())
        raise ReportFormatError(
            f"malformed XML: {problem}", location=f"line {line}, column {column}"
        ) from None
    except (etree.LxmlError, ValueError, LookupError) as exc:  # nothing from lxml may escape
        raise ReportFormatError(f"unreadable XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise _unsafe()
    return root
