"""The XML codec: golden layout, tolerant reading, round trips and refusal of broken bodies."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faxpush.core.errors import ReportFormatError, UnsafeXmlError
from faxpush.core.models import (
    AuthMethod,
    Document,
    FaxJobReport,
    HttpStatusPush,
    ImageFormat,
    ImageMode,
    Options,
    Overlay,
    OverlayMode,
    PaperFormat,
    Property,
    RecipientStatus,
    ReportMail,
    Resolution,
)
from faxpush.core.xml_codec import (
    DEFAULT_MAX_BYTES,
    NAMESPACE,
    XML_CONTENT_TYPE,
    parse_xml,
    render_xml,
)
from tests.samples import FULL_REPORT_MODEL, MINIMAL_REPORT_MODEL, sample
from tests.strategies import reports

FULL_XML = sample("report-full.xml")
MINIMAL_XML = sample("report-minimal.xml")
FULL_TEXT = FULL_XML.decode()


def _minimal_with(recipient_extra: str = "", root_extra: str = "") -> str:
    """A small body whose recipient and root carry extra XML."""
    return (
        f'<faxJobReport xmlns="{NAMESPACE}"><jobId>FJ1</jobId>'
        f"<faxRecipient><number>+1</number>{recipient_extra}</faxRecipient>"
        f"{root_extra}</faxJobReport>"
    )


# ------------------------------------------------------------------------------------------
# Constants and the golden layout
# ------------------------------------------------------------------------------------------


def test_constants() -> None:
    assert XML_CONTENT_TYPE == "text/xml; charset=UTF-8"
    assert NAMESPACE == "http://retarus.com/fax4ba/faxws/3/0"
    assert DEFAULT_MAX_BYTES == 1_048_576


@pytest.mark.parametrize(
    ("golden", "model"),
    [(FULL_XML, FULL_REPORT_MODEL), (MINIMAL_XML, MINIMAL_REPORT_MODEL)],
    ids=["full", "minimal"],
)
def test_golden_samples_parse_to_the_expected_model(golden: bytes, model: FaxJobReport) -> None:
    assert parse_xml(golden) == model


@pytest.mark.parametrize(
    ("golden", "model"),
    [(FULL_XML, FULL_REPORT_MODEL), (MINIMAL_XML, MINIMAL_REPORT_MODEL)],
    ids=["full", "minimal"],
)
def test_models_render_to_the_golden_bytes(golden: bytes, model: FaxJobReport) -> None:
    assert render_xml(model) == golden


@pytest.mark.parametrize("golden", [FULL_XML, MINIMAL_XML], ids=["full", "minimal"])
def test_golden_samples_parse_and_rerender_byte_identically(golden: bytes) -> None:
    assert render_xml(parse_xml(golden)) == golden
    assert render_xml(parse_xml(golden.decode())) == golden


def test_render_orders_every_element_as_the_spec_lists_them() -> None:
    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    report = FaxJobReport(
        jobId="FJ1",
        reportMail=ReportMail(
            successAddress="",
            failureAddress="f",
            attachedFaxImageMode=ImageMode.ALWAYS,
            attachedFaxImageFormat=ImageFormat.TIFF,
        ),
        httpStatusPush=HttpStatusPush(url="u", authMethod=AuthMethod.OAUTH2),
        faxRecipients=(
            RecipientStatus(
                number="+1",
                numId="n",
                alternativeNumbers=("a1", "a2"),
                properties=(Property(key="k", value="v"),),
                status="S",
                reason="r",
                sentTS=stamp,
                durationInSecs=1,
                sentToNumber="001",
                remoteCsid="c",
            ),
        ),
        documents=(Document(name="d", isText=False),),
        options=Options(
            csid="c",
            header="h",
            isExpress=False,
            isBlacklistEnabled=True,
            resolution=Resolution.LOW,
            paperFormat=PaperFormat.LETTER,
            coverpageTemplate="t",
            overlay=Overlay(name="o", mode=OverlayMode.FIRST_FILE),
            customerReference="cr",
            customerDefinedId="cd",
            billingCode="bc",
            billingInfo="bi",
            jobValidStart=stamp,
            jobValidEnd=stamp,
        ),
        pages=2,
    )
    body = render_xml(report).decode()
    tags = re.findall(r"^ *<([A-Za-z]+)>", body, flags=re.MULTILINE)
    assert tags == [
        "jobId",
        "reportMail", "successAddress", "failureAddress", "attachedFaxImageMode",
        "attachedFaxImageFormat",
        "httpStatusPush", "url", "authMethod",
        "faxRecipient", "number", "numId", "alternativeNumber", "alternativeNumber",
        "property", "key", "value", "status", "reason", "sentTS", "durationInSecs",
        "sentToNumber", "remoteCsid",
        "document", "name", "isText",
        "options", "csid", "header", "isExpress", "isBlacklistEnabled", "resolution",
        "paperFormat", "coverpageTemplate", "overlay", "name", "mode", "customerReference",
        "customerDefinedId", "billingCode", "billingInfo", "jobValidStart", "jobValidEnd",
        "pages",
    ]  # fmt: skip
    assert (
        "    <overlay>\n      <name>o</name>\n      <mode>FIRST_FILE</mode>\n    </overlay>\n"
        in body
    )
    assert "<successAddress></successAddress>" in body
    assert "<isExpress>false</isExpress>" in body
    assert "<isBlacklistEnabled>true</isBlacklistEnabled>" in body
    assert "<authMethod>OAUTH2</authMethod>" in body
    assert "<jobValidEnd>2024-01-02T03:04:05Z</jobValidEnd>" in body
    assert parse_xml(body) == report


def test_absent_fields_render_no_element_and_empty_strings_an_empty_one() -> None:
    report = FaxJobReport(
        jobId="FJ1",
        faxRecipients=(RecipientStatus(number="+1", remoteCsid="", reason=None),),
        options=Options(header=""),
    )
    body = render_xml(report).decode()
    assert "<remoteCsid></remoteCsid>" in body
    assert "<header></header>" in body
    assert "<reason>" not in body
    assert "<pages>" not in body
    assert "<reportMail>" not in body
    assert "<csid>" not in body


def test_render_escapes_markup_and_keeps_carriage_returns() -> None:
    nasty = "a&b<c>d]]>e\rf\r\ng\"h'i\tj "
    report = FaxJobReport(
        jobId=" FJ&1 ", faxRecipients=(RecipientStatus(number="+1", reason=nasty),)
    )
    body = render_xml(report)
    assert b"<reason>a&amp;b&lt;c&gt;d]]&gt;e&#13;f&#13;\ng\"h'i\tj </reason>" in body
    assert b"<jobId> FJ&amp;1 </jobId>" in body
    assert b"]]>" not in body
    assert parse_xml(body) == report


def test_render_writes_utf8_and_whole_second_utc_timestamps() -> None:
    report = FaxJobReport(
        jobId="FJ-日本-\U0001f4e0",
        faxRecipients=(
            RecipientStatus(number="+1", sentTS=datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ),
    )
    body = render_xml(report)
    assert "<jobId>FJ-日本-\U0001f4e0</jobId>".encode() in body
    assert b"<sentTS>0999-01-02T03:04:05Z</sentTS>" in body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<faxJobReport xmlns="')
    assert body.endswith(b"</faxJobReport>\n")


# ------------------------------------------------------------------------------------------
# Tolerant reading
# ------------------------------------------------------------------------------------------


def _prefixed(text: str) -> str:
    text = text.replace(f'xmlns="{NAMESPACE}"', f'xmlns:fx="{NAMESPACE}"')
    return re.sub(r"<(/?)([A-Za-z])", r"<\1fx:\2", text.split("\n", 1)[1])


VARIANTS: dict[str, Callable[[str], str]] = {
    "no declaration": lambda t: t.split("\n", 1)[1],
    "single-quoted declaration": lambda t: t.replace(
        '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0' encoding='utf-8'?>"
    ),
    "no namespace": lambda t: t.replace(f' xmlns="{NAMESPACE}"', ""),
    "prefixed root, unqualified children": lambda t: t.replace(
        f'<faxJobReport xmlns="{NAMESPACE}">', f'<fx:faxJobReport xmlns:fx="{NAMESPACE}">'
    ).replace("</faxJobReport>", "</fx:faxJobReport>"),
    "prefixed namespace": _prefixed,
    "CRLF line ends": lambda t: t.replace("\n", "\r\n"),
    "no indentation": lambda t: re.sub(r">\s+<", "><", t),
    "comments and processing instructions": lambda t: t.replace(
        "<jobId>", "<!-- c --><?app x?><jobId><!-- inside -->"
    ).replace("</faxRecipient>", "<?pi?></faxRecipient><!-- after -->"),
    "CDATA and character references": lambda t: t.replace(
        "Dr. Müller &amp; Partner", "<![CDATA[Dr. Mü]]>ller &#38; Partne&#x72;"
    ),
    "sentTs spelling": lambda t: t.replace("sentTS>", "sentTs>"),
    "reordered children": lambda t: t.replace(
        "<number>+4989555000</number>\n    <numId>FN7QK2M9X40ABCDEFGH125</numId>",
        "<numId>FN7QK2M9X40ABCDEFGH125</numId>\n    <number>+4989555000</number>",
    ),
    "unknown elements everywhere": lambda t: (
        t.replace("<jobId>", '<x:extra xmlns:x="urn:x"><jobId>nested</jobId></x:extra><jobId>')
        .replace("<status>OK", "<future>1</future><status>OK")
        .replace("<key>ToName", "<note>n</note><key>ToName")
        .replace("<name>terms.txt</name>", "<name>terms.txt</name><charset>UTF-8</charset>")
        .replace("<csid>", "<priority>high</priority><csid>")
        .replace("<url>", "<principal>faxhook</principal><credentials>s3cret</credentials><url>")
        .replace("</faxJobReport>", "<signature>abc</signature></faxJobReport>")
    ),
    "whitespace around typed values": lambda t: (
        t.replace("<pages>3<", "<pages>\n 3 \t<")
        .replace("<durationInSecs>31<", "<durationInSecs> +31 <")
        .replace("<isText>true<", "<isText> true\n<")
        .replace("<isExpress>true<", "<isExpress>1<")
        .replace("<isText>false<", "<isText>0<")
        .replace("<resolution>HIGH<", "<resolution> HIGH <")
        .replace("<authMethod>HTTP_DIGEST<", "<authMethod> http_digest <")
        .replace("<status>BUSY<", "<status>\n      BUSY\n    <")
        .replace("<sentTS>2024-05-06T09:14:03Z<", "<sentTS>  2024-05-06T11:14:03.999+02:00\n<")
        .replace("<sentTS>2024-05-06T09:20:41Z<", "<sentTS>2024-05-06T09:20:41<")
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_tolerated_variants_give_the_same_model(variant: str) -> None:
    text = VARIANTS[variant](FULL_TEXT)
    assert text != FULL_TEXT
    assert parse_xml(text.encode()) == FULL_REPORT_MODEL
    assert parse_xml(text) == FULL_REPORT_MODEL


def test_byte_order_mark_and_other_declared_encodings_are_read() -> None:
    assert parse_xml(b"\xef\xbb\xbf" + FULL_XML) == FULL_REPORT_MODEL
    latin = FULL_TEXT.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    assert parse_xml(latin) == FULL_REPORT_MODEL
    # A str is already decoded text: its declaration's encoding no longer applies.
    assert parse_xml(FULL_TEXT.replace("UTF-8", "ISO-8859-1")) == FULL_REPORT_MODEL


def test_string_content_is_kept_exactly() -> None:
    body = _minimal_with(
        "<reason>  spaced\n\tout  </reason><remoteCsid>   </remoteCsid>"
        "<sentToNumber><![CDATA[<&>]]></sentToNumber>"
    )
    recipient = parse_xml(body).faxRecipients[0]
    assert recipient.reason == "  spaced\n\tout  "
    assert recipient.remoteCsid == "   "
    assert recipient.sentToNumber == "<&>"


def test_unknown_child_of_a_text_element_is_dropped_but_its_text_kept() -> None:
    body = _minimal_with("<reason>line <b>busy</b> today</reason>")
    assert parse_xml(body).faxRecipients[0].reason == "line  today"


def test_unknown_status_codes_are_kept() -> None:
    assert parse_xml(_minimal_with("<status>NEW_CODE_42</status>")).faxRecipients[0].status == (
        "NEW_CODE_42"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T09:14:03Z", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T09:14:03z", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T09:14:03+00:00", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T11:14:03+02:00", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T04:14:03-05:00", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T09:14:03.987654Z", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        ("2024-05-06T09:14:03.5+01:00", datetime(2024, 5, 6, 8, 14, 3, tzinfo=UTC)),
        # faxpush's choice: no offset means UTC.
        ("2024-05-06T09:14:03", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
        (" \n2024-05-06T09:14:03Z\t", datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)),
    ],
)
def test_timestamps_are_normalised_to_whole_utc_seconds(text: str, expected: datetime) -> None:
    report = parse_xml(_minimal_with(f"<sentTS>{text}</sentTS>"))
    sent = report.faxRecipients[0].sentTS
    assert sent == expected
    assert sent is not None
    assert sent.utcoffset() is not None
    assert sent.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("0", False)],
)
def test_booleans_accept_words_and_digits(text: str, expected: bool) -> None:
    report = parse_xml(
        _minimal_with(root_extra=f"<document><name>d</name><isText>{text}</isText></document>")
    )
    assert report.documents[0].isText is expected


def test_oauth_alias_and_empty_groups() -> None:
    body = _minimal_with(
        root_extra="<httpStatusPush><url>u</url><authMethod>OAUTH</authMethod></httpStatusPush>"
        "<options/><reportMail></reportMail>"
    )
    report = parse_xml(body)
    assert report.httpStatusPush == HttpStatusPush(url="u", authMethod=AuthMethod.OAUTH2)
    assert report.options is None
    assert report.reportMail is None


# ------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_render_then_parse_gives_the_same_report(report: FaxJobReport) -> None:
    body = render_xml(report)
    assert parse_xml(body) == report
    assert parse_xml(body.decode("utf-8")) == report
    assert render_xml(parse_xml(body)) == body


# ------------------------------------------------------------------------------------------
# Located errors
# ------------------------------------------------------------------------------------------


def _error_for(body: str | bytes) -> ReportFormatError:
    with pytest.raises(ReportFormatError) as caught:
        parse_xml(body)
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "location", "problem"),
    [
        ("<number>+4989555000</number>", "", "line 33, faxRecipient[2]/number", "missing"),
        (
            "<number>+4989555000</number>",
            "<number> </number>",
            "line 34, faxRecipient[2]/number",
            "empty",
        ),
        ("<jobId>FJ7QK2M9X40ABCDEFGH123</jobId>", "", "line 2, jobId", "missing"),
        ("<jobId>FJ7QK2M9X40ABCDEFGH123</jobId>", "<jobId>\n</jobId>", "line 3, jobId", "empty"),
        ("<key>SubjectTitle</key>", "", "line 22, faxRecipient[1]/property[2]/key", "missing"),
        ("<name>terms.txt</name>", "", "line 47, document[2]/name", "missing"),
        (
            "<isText>false</isText>",
            "<isText>no</isText>",
            "line 45, document[1]/isText",
            "true or false",
        ),
        ("<pages>3</pages>", "<pages>three</pages>", "line 60, pages", "whole number"),
        ("<pages>3</pages>", "<pages>-3</pages>", "line 60, pages", "greater than or equal to 0"),
        ("<pages>3</pages>", "<pages>99999999999</pages>", "line 60, pages", "less than or equal"),
        (
            "<durationInSecs>31",
            "<durationInSecs>3.1",
            "line 29, faxRecipient[1]/durationInSecs",
            "whole number",
        ),
        ("09:20:41Z", "25:20:41Z", "line 38, faxRecipient[2]/sentTS", "ISO 8601"),
        (
            "<resolution>HIGH",
            "<resolution>MEDIUM",
            "line 54, options/resolution",
            "'HIGH' or 'LOW'",
        ),
        (
            "<authMethod>HTTP_DIGEST",
            "<authMethod>KERBEROS",
            "line 12, httpStatusPush/authMethod",
            "NONE",
        ),
        (
            "<url>https://hooks.example.org/fax/status</url>",
            "",
            "line 10, httpStatusPush/url",
            "missing",
        ),
        (
            "<pages>3</pages>",
            "<pages>3</pages><pages>4</pages>",
            "line 60, pages",
            "<pages> repeats",
        ),
        (
            "<sentTS>2024-05-06T09:20:41Z</sentTS>",
            "<sentTs>2024-05-06T09:20:41Z</sentTs><sentTS>2024-05-06T09:20:41Z</sentTS>",
            "line 38, faxRecipient[2]/sentTS",
            "<sentTS> repeats <sentTs>",
        ),
    ],
)
def test_errors_name_line_path_and_problem(old: str, new: str, location: str, problem: str) -> None:
    assert old in FULL_TEXT
    error = _error_for(FULL_TEXT.replace(old, new, 1))
    assert type(error) is ReportFormatError
    assert error.location == location
    assert problem in error.problem


def test_missing_recipients_and_wrong_root_are_reported() -> None:
    no_recipients = re.sub(r"<faxRecipient>.*?</faxRecipient>\s*", "", FULL_TEXT, flags=re.DOTALL)
    error = _error_for(no_recipients)
    assert error.location == "line 2, faxRecipient"
    assert "missing" in error.problem
    error = _error_for(FULL_TEXT.replace("faxJobReport", "faxReport"))
    assert error.location == "line 2"
    assert error.problem == "root element is <faxReport>, expected <faxJobReport>"


def test_malformed_xml_names_line_and_column() -> None:
    error = _error_for(FULL_TEXT.replace("</numId>", "</numid>", 1))
    assert error.location is not None
    assert error.location.startswith("line 16, column ")
    assert error.problem.startswith("malformed XML: ")
    assert "numId" in error.problem


def test_size_limit_is_checked_before_parsing() -> None:
    error = _error_for(FULL_XML + b" " * (DEFAULT_MAX_BYTES - len(FULL_XML) + 1))
    assert error.problem.startswith(
        f"body is {DEFAULT_MAX_BYTES + 1} bytes, limit is {DEFAULT_MAX_BYTES}"
    )
    assert parse_xml(FULL_XML, max_bytes=len(FULL_XML)) == FULL_REPORT_MODEL
    with pytest.raises(ReportFormatError, match=f"body is {len(FULL_XML)} bytes, limit is 100"):
        parse_xml(FULL_XML, max_bytes=100)
    # Non-ASCII text counts in encoded bytes, and an oversized bomb never reaches the parser.
    with pytest.raises(ReportFormatError, match="body is 3 bytes, limit is 2") as caught:
        parse_xml("ü<", max_bytes=2)
    assert type(caught.value) is ReportFormatError
    bomb = b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'
    with pytest.raises(ReportFormatError, match="limit is 10") as caught:
        parse_xml(bomb, max_bytes=10)
    assert not isinstance(caught.value, UnsafeXmlError)


def test_unpaired_surrogate_in_text_is_refused() -> None:
    error = _error_for(_minimal_with("<reason>\ud800</reason>"))
    assert "surrogate" in error.problem


# ------------------------------------------------------------------------------------------
# A corpus of broken bodies: each one must raise ReportFormatError and nothing else
# ------------------------------------------------------------------------------------------

SEED = 20240506
_END = FULL_XML.rindex(b"</faxJobReport>") + len(b"</faxJobReport>")


def _truncations() -> Iterator[tuple[str, bytes]]:
    for cut in range(_END):  # every prefix that lacks the complete closing root tag
        yield f"truncated at {cut}", FULL_XML[:cut]


def _illegal_byte_insertions() -> Iterator[tuple[str, bytes]]:
    # Never valid UTF-8 or never a legal XML character, wherever they are inserted.
    illegal = [0x00, 0x01, 0x08, 0x0B, 0x0C, 0x1F, 0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFE, 0xFF]
    rng = random.Random(SEED)
    for _ in range(400):
        at = rng.randrange(len(FULL_XML) + 1)
        byte = rng.choice(illegal)
        yield f"byte {byte:#04x} at {at}", FULL_XML[:at] + bytes([byte]) + FULL_XML[at:]


def _bracket_deletions() -> Iterator[tuple[str, bytes]]:
    for at, byte in enumerate(FULL_XML):
        if byte in b"<>":
            yield f"deleted {chr(byte)} at {at}", FULL_XML[:at] + FULL_XML[at + 1 :]


def _mismatched_tags() -> Iterator[tuple[str, bytes]]:
    rng = random.Random(SEED + 1)
    closings = list(re.finditer(rb"</([A-Za-z]+)>", FULL_XML))
    names = sorted({m.group(1) for m in closings})
    for match in closings:
        other = rng.choice([n for n in names if n != match.group(1)])
        yield (
            f"</{match.group(1).decode()}> closed as </{other.decode()}>",
            FULL_XML[: match.start(1)] + other + FULL_XML[match.end(1) :],
        )
        yield (
            f"</{match.group(1).decode()}> removed",
            FULL_XML[: match.start()] + FULL_XML[match.end() :],
        )


def _wrong_values() -> Iterator[tuple[str, bytes]]:
    bad = {
        "pages": ["", "abc", "1.5", "-1", "1e3", "0x10", "٣", "99999999999", "9" * 40],
        "durationInSecs": ["", "x", "-5", "3 1", "2147483648"],
        "isText": ["", "yes", "no", "2", "tru e", "null"],
        "isExpress": ["", "on", "-1"],
        "sentTS": ["", "tomorrow", "2024-13-01T00:00:00Z", "2024-05-06T25:00:00Z",
                   "9999-12-31T23:59:59-01:00", "1714986843", "2024-05-06T09:14:03+25:00"],
        "resolution": ["", "MEDIUM", "H IGH"],
        "paperFormat": ["A5", "a 4"],
        "attachedFaxImageMode": ["SOMETIMES", ""],
        "attachedFaxImageFormat": ["PNG"],
        "authMethod": ["KERBEROS", "OAUTH 2", ""],
        "number": ["", "   ", "\n\t"],
        "jobId": ["", "  "],
    }  # fmt: skip
    for name, values in bad.items():
        found = re.search(rf"<{name}>[^<]*</{name}>".encode(), FULL_XML)
        assert found is not None, name
        for value in values:
            swapped = f"<{name}>{value}</{name}>".encode()
            yield f"{name}={value!r}", FULL_XML[: found.start()] + swapped + FULL_XML[found.end() :]


def _missing_and_duplicated() -> Iterator[tuple[str, bytes]]:
    removals = [
        rb"<jobId>[^<]*</jobId>",
        rb"<number>\+4930123456789</number>",
        rb"<number>\+4989555000</number>",
        rb"<key>[^<]*</key>",
        rb"<value>[^<]*</value>",
        rb"<name>terms.txt</name>",
        rb"<isText>true</isText>",
        rb"<url>[^<]*</url>",
        rb"<faxRecipient>.*?</faxRecipient>\s*<faxRecipient>.*?</faxRecipient>",
    ]
    for pattern in removals:
        yield f"removed {pattern!r}", re.sub(pattern, b"", FULL_XML, count=1, flags=re.DOTALL)
    for single in (b"jobId", b"pages", b"reportMail", b"options", b"httpStatusPush", b"csid"):
        element = re.search(rb"<%s>.*?</%s>" % (single, single), FULL_XML, flags=re.DOTALL)
        assert element is not None
        yield f"two {single.decode()}", FULL_XML.replace(element.group(), element.group() * 2, 1)
    overlay = b"<options><overlay><mode>ALL_PAGES</mode></overlay></options>"
    yield "overlay without name", FULL_XML.replace(b"<pages>", overlay + b"<pages>")


def _wrong_documents() -> Iterator[tuple[str, bytes]]:
    yield "empty", b""
    yield "whitespace", b" \n\t "
    yield "declaration only", b'<?xml version="1.0" encoding="UTF-8"?>\n'
    yield "JSON", json.dumps({"jobId": "FJ1", "faxRecipients": [{"number": "+1"}]}).encode()
    yield "HTML", b"<html><body><faxJobReport/></body></html>"
    yield "two roots", MINIMAL_XML + MINIMAL_XML.split(b"\n", 1)[1]
    yield "wrong root", FULL_XML.replace(b"faxJobReport", b"faxJobReports")
    yield "empty root", b"<faxJobReport/>"
    yield "undefined entity", FULL_XML.replace(b"&amp;", b"&nbsp;")
    yield "bare ampersand", FULL_XML.replace(b"&amp;", b"&")
    yield "latin-1 bytes declared UTF-8", FULL_XML.decode().encode("latin-1")
    yield (
        "cp1252 bytes declared UTF-8",
        FULL_XML.decode().replace("Müller", "Müller €").encode("cp1252"),
    )
    yield "unknown encoding", FULL_XML.replace(b"UTF-8", b"X-NO-SUCH-CHARSET")
    yield "XML 1.1 control reference", FULL_XML.replace(b"Partner", b"Partner&#1;")
    yield "huge", FULL_XML + b"<!-- " + b"x" * DEFAULT_MAX_BYTES + b" -->"
    yield "deeply nested", b"<faxJobReport>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</faxJobReport>"
    rng = random.Random(SEED + 2)
    for index in range(100):
        yield f"random bytes {index}", rng.randbytes(rng.randrange(1, 300))
    for index in range(50):
        alphabet = "<>/&;!?=\"' abcfaxJobReport\n"
        yield (
            f"random markup {index}",
            "".join(rng.choices(alphabet, k=rng.randrange(1, 200))).encode(),
        )


BROKEN_BODIES: list[tuple[str, bytes]] = [
    *_truncations(),
    *_illegal_byte_insertions(),
    *_bracket_deletions(),
    *_mismatched_tags(),
    *_wrong_values(),
    *_missing_and_duplicated(),
    *_wrong_documents(),
]


def test_the_corpus_is_large_and_every_body_differs_from_the_sample() -> None:
    assert len(BROKEN_BODIES) > 2000
    assert all(body != FULL_XML for _, body in BROKEN_BODIES)


@pytest.mark.parametrize(
    "generator",
    [
        _truncations,
        _illegal_byte_insertions,
        _bracket_deletions,
        _mismatched_tags,
        _wrong_values,
        _missing_and_duplicated,
        _wrong_documents,
    ],
)
def test_every_broken_body_raises_report_format_error_only(
    generator: Callable[[], Iterator[tuple[str, bytes]]],
) -> None:
    unexpected: list[str] = []
    count = 0
    for label, body in generator():
        count += 1
        try:
            parse_xml(body)
        except ReportFormatError as exc:
            if not exc.problem:
                unexpected.append(f"{label}: empty problem")
        except Exception as exc:  # noqa: BLE001 - any other type is the failure being tested
            unexpected.append(f"{label}: {type(exc).__name__}: {exc}")
        else:
            unexpected.append(f"{label}: parsed without error")
    assert count >= 10
    assert unexpected == []


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(FULL_XML)), st.integers(0, 8), st.binary(max_size=8)).map(
            lambda t: FULL_XML[: t[0]] + t[2] + FULL_XML[t[0] + t[1] :]
        ),
    )
)
def test_any_bytes_give_a_valid_report_or_report_format_error(body: bytes) -> None:
    try:
        report = parse_xml(body)
    except ReportFormatError:
        return
    # Whatever parses is a valid report that survives a round trip.
    assert parse_xml(render_xml(report)) == report


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_report_or_report_format_error(text: str) -> None:
    try:
        report = parse_xml(text)
    except ReportFormatError:
        return
    assert parse_xml(render_xml(report)) == report
