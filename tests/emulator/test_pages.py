"""Page counting: PDF (pypdf), TIFF page directories, text lines at the paper format."""

from __future__ import annotations

import base64
import io
import struct

import pytest
from pypdf import PdfWriter

from faxpush.core.models import PaperFormat
from faxpush.emulator.pages import (
    COLUMNS,
    LINES_PER_PAGE,
    TiffError,
    count_pages,
    text_pages,
    tiff_pages,
)

from .harness import Emulator


def pdf(pages: int, *, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def tiff(pages: int, *, order: str = "<", big: bool = False, loop: bool = False) -> bytes:
    """A minimal TIFF whose directories each hold one (dummy) entry."""
    magic = b"II" if order == "<" else b"MM"
    if big:
        header = magic + struct.pack(order + "HHHQ", 43, 8, 0, 16)
        directory_size = 8 + 20 + 8
    else:
        header = magic + struct.pack(order + "HI", 42, 8)
        directory_size = 2 + 12 + 4
    data = bytearray(header)
    for n in range(pages):
        start = len(data)
        is_last = n == pages - 1
        following = 0 if is_last and not loop else start + directory_size
        if is_last and loop:
            following = len(header)  # back to the first directory
        if big:
            data += struct.pack(order + "Q", 1) + b"\0" * 20 + struct.pack(order + "Q", following)
        else:
            data += struct.pack(order + "H", 1) + b"\0" * 12 + struct.pack(order + "I", following)
    return bytes(data)


@pytest.mark.parametrize(
    ("lines", "paper", "pages"),
    [
        (1, PaperFormat.A4, 1),
        (64, PaperFormat.A4, 1),
        (65, PaperFormat.A4, 2),
        (60, PaperFormat.LETTER, 1),
        (61, PaperFormat.LETTER, 2),
        (129, PaperFormat.A4, 3),
    ],
)
def test_text_pages_follow_the_line_count(lines: int, paper: PaperFormat, pages: int) -> None:
    assert text_pages("line\n" * lines, paper) == pages


def test_long_lines_wrap_and_form_feeds_start_pages() -> None:
    assert LINES_PER_PAGE[PaperFormat.A4] == 64
    assert text_pages("x" * (COLUMNS * 64)) == 1
    assert text_pages("x" * (COLUMNS * 64 + 1)) == 2
    assert text_pages("page one\fpage two\fpage three") == 3
    assert text_pages("") == 1


def test_text_documents_are_decoded_with_their_charset() -> None:
    body = ("zeile\n" * 65).encode("utf-16")
    assert count_pages("a.txt", body, encoding="utf-16").pages == 2


@pytest.mark.parametrize("pages", [1, 3, 12])
def test_pdf_pages_are_counted(pages: int) -> None:
    assert count_pages("doc.PDF", pdf(pages)) == count_pages("doc.pdf", pdf(pages))
    assert count_pages("doc.pdf", pdf(pages)).pages == pages


def test_a_pdf_that_opens_without_a_password_is_counted() -> None:
    assert count_pages("doc.pdf", pdf(2, password="")).pages == 2


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"%PDF-1.4 but nothing else", "cannot be read"),
        (b"not a pdf at all", "cannot be read"),
        (pdf(2, password="s3cret"), "password protected"),
    ],
    ids=["truncated", "garbage", "encrypted"],
)
def test_a_pdf_that_cannot_be_read_is_a_rendering_error(data: bytes, detail: str) -> None:
    counted = count_pages("doc.pdf", data)
    assert counted.failure == "RENDERING_ERROR"
    assert counted.pages == 0
    assert counted.detail is not None
    assert detail in counted.detail


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True], ids=["classic", "bigtiff"])
def test_tiff_pages_are_the_directory_chain(order: str, big: bool) -> None:
    assert tiff_pages(tiff(4, order=order, big=big)) == 4
    assert count_pages("scan.tif", tiff(2, order=order, big=big)).pages == 2
    assert count_pages("scan.TIFF", tiff(1, order=order, big=big)).pages == 1


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (tiff(3, loop=True), "loop"),
        (tiff(3)[:-6], "past the end"),
        (b"GIF89a", "not a TIFF"),
        (b"II*\x00\x00\x00\x00\x00", "no pages"),
    ],
    ids=["loop", "truncated", "not-tiff", "empty"],
)
def test_a_damaged_tiff_is_a_tiff_page_error(data: bytes, problem: str) -> None:
    with pytest.raises(TiffError, match=problem):
        tiff_pages(data)
    counted = count_pages("scan.tiff", data)
    assert counted.failure == "TIFF_PAGE_ERR"


def test_other_types_and_references_count_one_page() -> None:
    assert count_pages("photo.png", b"\x89PNG whatever").pages == 1
    assert count_pages("letter.docx", b"PK\x03\x04").pages == 1
    assert count_pages("remote.pdf", None).pages == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_the_report_counts_every_document_and_the_cover_page(
    shared_emulator: Emulator,
) -> None:
    def encoded(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    job = {
        "recipients": [{"number": "+4989123"}],
        "documents": [
            {"name": "contract.pdf", "data": encoded(pdf(3))},
            {"name": "scan.tiff", "data": encoded(tiff(2, order=">"))},
            {"name": "notes.txt", "data": encoded(b"line\n" * 70)},
        ],
        "renderingOptions": {"coverpageTemplate": "cover.ftl.html"},
    }
    job_id = await shared_emulator.send(job)
    await shared_emulator.finished(job_id)

    status, report = await shared_emulator.call("GET", f"/reports/{job_id}")
    assert status == 200
    assert report["pages"] == 3 + 2 + 2 + 1
    assert report["recipientStatus"][0]["status"] == "OK"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_damaged_document_fails_every_recipient(shared_emulator: Emulator) -> None:
    job = {
        "recipients": [{"number": "+4989123"}, {"number": "+4930123"}],
        "documents": [{"name": "scan.tif", "data": base64.b64encode(b"II*\0garbage").decode()}],
    }
    job_id = await shared_emulator.send(job)
    await shared_emulator.finished(job_id)

    _, report = await shared_emulator.call("GET", f"/reports/{job_id}")
    assert [r["status"] for r in report["recipientStatus"]] == ["TIFF_PAGE_ERR"] * 2
    assert report["pages"] == 0
