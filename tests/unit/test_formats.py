"""Format detection and the single parse/render entry point over the three report formats."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import ReportFormat, detect_format, parse_report, render_report
from faxpush.core.json_codec import JSON_CONTENT_TYPE
from faxpush.core.xml_codec import XML_CONTENT_TYPE

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<faxJobReport/>", ReportFormat.XML),
        (b"\n\t  <?xml version='1.0'?><a/>", ReportFormat.XML),
        (codecs.BOM_UTF8 + b" <a/>", ReportFormat.XML),
        (codecs.BOM_UTF16_LE + " <a/>".encode("utf-16-le"), ReportFormat.XML),
        (codecs.BOM_UTF16_BE + "<a/>".encode("utf-16-be"), ReportFormat.XML),
        (codecs.BOM_UTF32_LE + "<a/>".encode("utf-32-le"), ReportFormat.XML),
        ("<a/>".encode("utf-16-be"), ReportFormat.XML),
        (b'{"jobId": "x"}', ReportFormat.JSON),
        (b'{"recipientStatus": [], "faxRecipients": []}', ReportFormat.JSON),
        (b'{"recipientStatus": []}', ReportFormat.REST),
        (codecs.BOM_UTF8 + b'\r\n{"recipientStatus": null}', ReportFormat.REST),
        (b'{"recipientStatus": [', ReportFormat.JSON),
        (b"[1]", ReportFormat.JSON),
    ],
)
def test_detect_format(data: bytes, expected: ReportFormat) -> None:
    assert detect_format(data) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report-full.xml", ReportFormat.XML),
        ("report-minimal.json", ReportFormat.JSON),
        ("report-rest.json", ReportFormat.REST),
    ],
)
def test_detect_format_of_the_samples(name: str, expected: ReportFormat) -> None:
    assert detect_format(sample(name)) is expected


@pytest.mark.parametrize(
    "data", [b"", b"  \r\n\t", codecs.BOM_UTF8, codecs.BOM_UTF16_LE + b" \x00"]
)
def test_detect_format_refuses_empty_input(data: bytes) -> None:
    with pytest.raises(ReportFormatError, match="the input is empty"):
        detect_format(data)


def test_detect_format_names_what_it_found_and_where() -> None:
    with pytest.raises(ReportFormatError) as info:
        detect_format(b"\n\nstatus=OK")
    assert info.value.location == "line 3"
    assert "found 's'" in info.value.problem
    with pytest.raises(ReportFormatError, match="found byte 0x01"):
        detect_format(b"\x01")


def test_parse_report_gives_one_report_for_both_layouts() -> None:
    from_xml = parse_report(sample("report-full.xml"))
    assert from_xml == parse_report(sample("report-full.json"))
    assert from_xml == parse_report(sample("report-full.json"), ReportFormat.JSON)
    assert from_xml.faxRecipients[1].status == "BUSY"


def test_parse_report_reads_the_rest_view() -> None:
    report = parse_report(sample("report-rest.json"))
    assert report == parse_report(sample("report-rest.json"), ReportFormat.REST)
    assert report.options is not None
    assert report.options.billingCode == "CC-4711"
    assert report.faxRecipients[0].numId is None


def test_explicit_json_reads_the_rest_spellings_too() -> None:
    # Every format reads every spelling: an explicit "json" keeps the REST `reference`.
    report = parse_report(sample("report-rest.json"), ReportFormat.JSON)
    assert report == parse_report(sample("report-rest.json"), ReportFormat.REST)
    assert report.options is not None
    assert report.options.billingCode == "CC-4711"


def test_parse_report_with_the_wrong_format_fails_with_a_location() -> None:
    with pytest.raises(ReportFormatError) as info:
        parse_report(sample("report-full.xml"), ReportFormat.JSON)
    assert info.value.location == "line 1 column 1"
    with pytest.raises(ReportFormatError, match="malformed XML"):
        parse_report(sample("report-full.json"), ReportFormat.XML)


def test_parse_report_refuses_large_input_before_decoding() -> None:
    data = sample("report-full.xml")
    with pytest.raises(ReportFormatError, match=f"more than the limit of {len(data) - 1}"):
        parse_report(data, max_bytes=len(data) - 1)
    assert parse_report(data, max_bytes=len(data)).jobId == "FJ7QK2M9X40ABCDEFGH123"


@pytest.mark.parametrize(
    ("fmt", "expected", "content_type"),
    [
        (ReportFormat.XML, "report-full.xml", XML_CONTENT_TYPE),
        (ReportFormat.JSON, "report-full.json", JSON_CONTENT_TYPE),
    ],
)
def test_render_report_matches_the_samples(
    fmt: ReportFormat, expected: str, content_type: str
) -> None:
    report = parse_report(sample("report-full.xml"))
    assert render_report(report, fmt) == (sample(expected), content_type)
    assert fmt.content_type == content_type


def test_render_report_rest_view_round_trips() -> None:
    report = parse_report(sample("report-rest.json"))
    body, content_type = render_report(report, ReportFormat.REST)
    assert content_type == JSON_CONTENT_TYPE
    assert json.loads(body) == json.loads(sample("report-rest.json"))
    assert parse_report(body) == report
