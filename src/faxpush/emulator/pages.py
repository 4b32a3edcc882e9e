"""How many fax pages a document makes: PDF (pypdf), TIFF (its page directory), plain text.

A document that cannot be read is not a request error: the real service accepts the job
and reports a document status for every recipient, so :func:`count_pages` returns that
status (``RENDERING_ERROR``, ``TIFF_PAGE_ERR``) instead of raising.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

from pypdf import PdfReader

from faxpush.core.models import PaperFormat

LINES_PER_PAGE: Final = {PaperFormat.A4: 64, PaperFormat.LETTER: 60}
"""Text lines on one fax page: 6 lines per inch on the paper height less 1 inch of margins."""
COLUMNS: Final = 80
"""Characters per text line; longer lines wrap."""
MAX_TIFF_PAGES: Final = 100_000
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp"})


@dataclass(frozen=True, slots=True)
class DocumentPages:
    """Pages of one document, or the status code of why it cannot be faxed."""

    pages: int
    failure: str | None = None  # a document status code, e.g. RENDERING_ERROR
    detail: str | None = None


class TiffError(Exception):
    """A TIFF file whose page directories cannot be followed."""


def count_pages(
    name: str,
    data: bytes | None,
    *,
    encoding: str = "utf-8",
    paper: PaperFormat = PaperFormat.A4,
) -> DocumentPages:
    """Pages of the document ``name`` with content ``data``.

    ``data`` None means the document is given by reference (a URL the emulator never
    fetches): it counts as one page. Types other than PDF, TIFF and text count one page.
    """
    if data is None:
        return DocumentPages(1)
    suffix = PurePath(name).suffix.lower()
    if suffix == ".pdf":
        return pdf_pages(data)
    if suffix in (".tif", ".tiff"):
        try:
            return DocumentPages(tiff_pages(data))
        except TiffError as exc:
            return DocumentPages(0, "TIFF_PAGE_ERR", f"{name}: {exc}")
    if suffix == ".txt":
        return DocumentPages(text_pages(data.decode(encoding, errors="replace"), paper))
    return DocumentPages(1)


def pdf_pages(data: bytes) -> DocumentPages:
    """Pages of a PDF; a PDF that cannot be read is a ``RENDERING_ERROR``."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return DocumentPages(0, "RENDERING_ERROR", "the PDF is password protected")
        pages = len(reader.pages)
    except Exception as exc:  # noqa: BLE001 - any failure inside pypdf means "cannot render"
        return DocumentPages(0, "RENDERING_ERROR", f"the PDF cannot be read: {exc}")
    if pages == 0:
        return DocumentPages(0, "RENDERING_ERROR", "the PDF has no pages")
    return DocumentPages(pages)


def text_pages(text: str, paper: PaperFormat = PaperFormat.A4) -> int:
    """Pages of plain text: lines wrap at :data:`COLUMNS`, a form feed starts a new page."""
    per_page = LINES_PER_PAGE[paper]
    total = 0
    for page in text.split("\f"):
        lines = page.splitlines() or [""]
        rows = sum(max(1, math.ceil(len(line.expandtabs(8)) / COLUMNS)) for line in lines)
        total += max(1, math.ceil(rows / per_page))
    return total


def tiff_pages(data: bytes) -> int:
    """Pages of a TIFF (classic or BigTIFF): the length of its chain of image directories."""
    header = data[:4]
    if header in (b"II*\x00", b"MM\x00*"):
        return _follow_directories(data, "<" if header[0] == ord("I") else ">", big=False)
    if header in (b"II+\x00", b"MM\x00+"):
        return _follow_directories(data, "<" if header[0] == ord("I") else ">", big=True)
    raise TiffError("not a TIFF file (no II*/MM* header)")


def _follow_directories(data: bytes, order: str, *, big: bool) -> int:
    offset_format, count_format, entry_size, first_at = (
        ("Q", "Q", 20, 8) if big else ("I", "H", 12, 4)
    )
    offset_size = struct.calcsize(offset_format)
    count_size = struct.calcsize(count_format)
    offset = _unpack(data, order + offset_format, first_at)
    seen: set[int] = set()
    while offset != 0:
        if offset in seen:
            raise TiffError("the page directories form a loop")
        if len(seen) >= MAX_TIFF_PAGES:
            raise TiffError(f"more than {MAX_TIFF_PAGES} pages")
        seen.add(offset)
        entries = _unpack(data, order + count_format, offset)
        next_at = offset + count_size + entries * entry_size
        offset = _unpack(data, order + offset_format, next_at)
        if next_at + offset_size > len(data):
            raise TiffError("a page directory runs past the end of the file")
    if not seen:
        raise TiffError("the file has no pages")
    return len(seen)


def _unpack(data: bytes, fmt: str, at: int) -> int:
    size = struct.calcsize(fmt)
    if at < 0 or at + size > len(data):
        raise TiffError(f"offset {at} points past the end of the file ({len(data)} bytes)")
    value: int = struct.unpack_from(fmt, data, at)[0]
    return value
