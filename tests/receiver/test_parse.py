"""parse(): media types, the canonical fast path against the core codecs, reverse mappings."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from faxpush.core.errors import ConfigurationError, ReportFormatError, UnsafeXmlError
from faxpush.core.formats import ReportFormat, parse_report
from faxpush.core.json_codec import render_json
from faxpush.core.models import FaxJobReport
from faxpush.core.templates import PushTemplate
from faxpush.core.xml_codec import render_xml
from faxpush.receiver.errors import BodyTooLargeError, UnsupportedMediaTypeError
from faxpush.receiver.fastpath import fast_json, fast_xml
from faxpush.receiver.mapping import ReverseMapping
from faxpush.receiver.parse import body_format, media_type, parse
from tests.samples import FULL_REPORT_MODEL, MINIMAL_REPORT_MODEL, sample
from tests.strategies import reports

XML = "text/xml; charset=UTF-8"
JSON = "application/json"


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("text/xml", ReportFormat.XML),
        ("Application/XML; charset=utf-8", ReportFormat.XML),
        ("application/json", ReportFormat.JSON),
        (" application/json ;charset=UTF-8", ReportFormat.JSON),
    ],
)
def test_accepted_media_types(content_type: str, fmt: ReportFormat) -> None:
    assert body_format(content_type) is fmt


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/soap+xml",
        "multipart/form-data; boundary=x",
        "text/json",
    ],
)
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as refused:
        parse(sample("report-full.xml"), content_type)
    assert refused.value.status == 415
    assert "text/xml, application/xml or application/json" in str(
        refused.value
    ) or "application/json, application/xml, text/xml" in str(refused.value)


def test_media_type_helper() -> None:
    assert media_type("Text/XML; charset=UTF-8") == "text/xml"
    assert media_type(None) == ""


@pytest.mark.parametrize(
    ("name", "content_type", "model"),
    [
        ("report-full.xml", XML, FULL_REPORT_MODEL),
        ("report-minimal.xml", XML, MINIMAL_REPORT_MODEL),
        ("report-full.json", JSON, FULL_REPORT_MODEL),
        ("report-minimal.json", JSON, MINIMAL_REPORT_MODEL),
    ],
)
def test_golden_samples(name: str, content_type: str, model: FaxJobReport) -> None:
    assert parse(sample(name), content_type) == model


def test_the_fast_path_takes_the_golden_samples() -> None:
    assert fast_xml(sample("report-full.xml")) == FULL_REPORT_MODEL
    assert fast_json(sample("report-full.json")) == FULL_REPORT_MODEL


def test_body_limit() -> None:
    with pytest.raises(BodyTooLargeError):
        parse(sample("report-full.xml"), XML, max_bytes=100)


def test_errors_name_the_request() -> None:
    with pytest.raises(ReportFormatError, match=r"^<request>: line 1, column \d+: malformed XML"):
        parse(b"<faxJobReport", XML)
    with pytest.raises(UnsafeXmlError):
        parse(b'<!DOCTYPE x [<!ENTITY a "b">]><faxJobReport/>', XML)


# --- the fast path never disagrees with the core codecs -------------------------------------


def _exactly(fast: object, core: object) -> None:
    """Equal, and of the same types all the way down (a str is not an enum member, a naive
    datetime not an aware one), with the same fields given: what validation would build."""
    assert type(fast) is type(core), (fast, core)
    if isinstance(fast, BaseModel):
        assert isinstance(core, BaseModel)
        assert fast.model_fields_set == core.model_fields_set
        for name in type(fast).model_fields:
            _exactly(getattr(fast, name), getattr(core, name))
    elif isinstance(fast, tuple):
        assert isinstance(core, tuple)
        assert len(fast) == len(core)
        for one, other in zip(fast, core, strict=True):
            _exactly(one, other)
    elif isinstance(fast, datetime):
        assert isinstance(core, datetime)
        assert fast == core
        assert fast.tzinfo is core.tzinfo
    else:
        assert fast == core


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(reports())
def test_fast_path_reads_canonical_bodies_like_the_core(report: FaxJobReport) -> None:
    xml_body, json_body = render_xml(report), render_json(report)
    assert fast_xml(xml_body) == parse_report(xml_body, ReportFormat.XML) == report
    assert fast_json(json_body) == parse_report(json_body, ReportFormat.JSON) == report
    _exactly(fast_xml(xml_body), parse_report(xml_body, ReportFormat.XML))
    _exactly(fast_json(json_body), parse_report(json_body, ReportFormat.JSON))


def _core(body: bytes, fmt: ReportFormat) -> tuple[str, object]:
    try:
        return "ok", parse_report(body, fmt)
    except ReportFormatError as exc:
        return type(exc).__name__, str(exc)


def _receiver(body: bytes, content_type: str) -> tuple[str, object]:
    try:
        return "ok", parse(body, content_type)
    except ReportFormatError as exc:
        return type(exc).__name__, str(exc).removeprefix("<request>: ")


_XML_EDITS = [
    (b"true", b"1"),
    (b"<pages>3", b"<pages> 3"),
    (b"Z</sentTS>", b"+02:00</sentTS>"),
    (b"<jobId>", b"<jobId> "),
    (b"</faxJobReport>", b"<extra/></faxJobReport>"),
    (b"<number>", b"<number><b/>"),
    (b"sentTS", b"sentTs"),
    (b"<status>OK", b"<status> OK "),
    (b'xmlns="http://retarus.com/fax4ba/faxws/3/0"', b""),
    (b"31", b"-31"),
    (b"<pages>", b"<!-- c --><pages>"),
    (b"HIGH", b"high"),
    (b"<pages>3</pages>", b""),
    (b"2024-05-06", b"2024-02-30"),
    (b"<options>", b"<options><csid>x</csid>"),
    (b"FAILURE_ONLY", b"NOPE"),
    (b"<jobId>FJ7QK2M9X40ABCDEFGH123", b"<jobId> "),
    (b"31", b"99999999999"),
    (b"</document>", b"</document><document><name>a</name></document>"),
    (b"<remoteCsid></remoteCsid>", b"<remoteCsid/>"),
    (b"&amp;", b"&#1;"),
    (b"M\xc3\xbcller", b"M\xfcller"),
    # The fast grammar's edges: other references, characters XML refuses or normalises,
    # markup it does not take, another element order, digits of other scripts.
    (b"&amp;", b"&#38;"),
    (b"&amp;", b"&amp;#13;"),
    (b"Partner<", b"Partner&#13;<"),
    (b"Partner<", b"Partner\r\n<"),
    (b"Partner<", b"]]><"),
    (b"Partner<", b"<![CDATA[x]]><"),
    (b"Partner<", "\ufffe<".encode()),
    (b"Partner<", b"&apos;&quot;&lt;&gt;<"),
    (b"<pages>3", b"<pages>0003"),
    (b"<csid>", b'<csid a="1">'),
    (
        b"<csid>ACME Billing</csid>\n    <isExpress>true</isExpress>",
        b"<isExpress>true</isExpress><csid>ACME Billing</csid>",
    ),
    (b"HTTP_DIGEST", b" http_digest "),
    (b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
    (b"<jobId>FJ7QK2M9X40ABCDEFGH123", "<jobId>\u2003".encode()),
    (b"2024-05-06T09:14:03Z", "\u0662\u0660\u0662\u0664-05-06T09:14:03Z".encode()),
]
_JSON_EDITS = [
    (b"true", b"1"),
    (b": 3", b": 3.0"),
    (b'Z"', b'+02:00"'),
    (b'"jobId"', b'"jobID"'),
    (b'"sentTS"', b'"sentTs"'),
    (b'"faxRecipients"', b'"recipientStatus"'),
    (b'"OK"', b'" OK "'),
    (b'"pages": 3', b'"pages": null'),
    (b"31", b"-31"),
    (b'"HIGH"', b'"high"'),
    (b"{", b'{"x": [[[1]]], '),
    (b'"2024-05-06', b'"2024-02-30'),
    (b'"FAILURE_ONLY"', b'"NOPE"'),
    (b"31", b"1e3"),
    (b'"isText": false', b'"isText": false, "isText": true'),
    (b"M\xc3\xbcller", b"M\\u00fcller"),
    (b'"OK"', b'"\\u0001"'),
    (b'"pages": 3', b'"pages": 2147483648'),
    (b"[", b"[" * 40),
    # The fast reader's edges: duplicates however spaced, strings that hold '":', null,
    # coercions pydantic would make, escapes, a byte order mark, other timestamp spellings.
    (b'"pages": 3', b'"pages" : 3, "pages": 4'),
    (b'"pages": 3', b'"pages": 3, "pages" : 4'),
    (b'"pages": 3', b'"pages": 3, "extra": {"a": 1, "a": 2}'),
    (b'"Invoice 2024-05"', b'":Invoice"'),
    (b'"reason": "OK"', b'"reason": "O\\":K"'),
    (b'"OK"', b"null"),
    (b'"OK"', b'"\\ud800"'),
    (b": 3", b": NaN"),
    (b'"isText": false', b'"isText": 0'),
    (b'"pages": 3', b'"pages": true'),
    (b'"pages": 3', b'"pages": "3"'),
    (b'Z"', b'.5Z"'),
    (b'"jobId"', b'"job\\u0049d"'),
    (b'"HTTP_DIGEST"', b'"http_digest"'),
    (
        b"{",
        b"\xef\xbb\xbf{",
    ),
    (b"2024-05-06", "\u0662\u0660\u0662\u0664-05-06".encode()),
]


def _mutate(body: bytes, edits: list[tuple[bytes, bytes]], rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.6:
            old, new = rng.choice(edits)
            if old in body:
                body = body.replace(old, new, 1)
        elif roll < 0.8 and body:
            at = rng.randrange(len(body))
            body = body[:at] + bytes([rng.randrange(256)]) + body[at + 1 :]
        elif body:
            at = rng.randrange(len(body))
            body = body[:at] + body[at + rng.randint(1, 8) :]
    return body


@pytest.mark.parametrize(
    ("name", "content_type", "fmt", "edits"),
    [
        ("report-full.xml", XML, ReportFormat.XML, _XML_EDITS),
        ("report-full.json", JSON, ReportFormat.JSON, _JSON_EDITS),
    ],
)
def test_mutated_bodies_read_exactly_as_the_core_reads_them(
    name: str, content_type: str, fmt: ReportFormat, edits: list[tuple[bytes, bytes]]
) -> None:
    rng = random.Random(20240506)
    taken = 0
    for _ in range(1500):
        body = _mutate(sample(name), edits, rng)
        fast = fast_xml(body) if fmt is ReportFormat.XML else fast_json(body)
        core = _core(body, fmt)
        if fast is not None:
            taken += 1
            assert core == ("ok", fast), body
            _exactly(fast, core[1])
        assert _receiver(body, content_type) == core, body
    assert 50 < taken < 1500  # both paths were exercised


@pytest.mark.parametrize(
    ("name", "fmt", "edit"),
    [("report-full.xml", ReportFormat.XML, edit) for edit in _XML_EDITS]
    + [("report-full.json", ReportFormat.JSON, edit) for edit in _JSON_EDITS],
)
def test_each_edit_alone_reads_as_the_core_reads_it(
    name: str, fmt: ReportFormat, edit: tuple[bytes, bytes]
) -> None:
    old, new = edit
    body = sample(name).replace(old, new, 1)
    assert body != sample(name)
    fast = fast_xml(body) if fmt is ReportFormat.XML else fast_json(body)
    core = _core(body, fmt)
    if fast is not None:
        assert core == ("ok", fast)
        _exactly(fast, core[1])


def test_json_duplicate_keys_are_left_to_the_core() -> None:
    full = sample("report-full.json")
    for body in (
        full.replace(b'"pages": 3', b'"pages" : 3, "pages": 3'),
        full.replace(b'"pages": 3', b'"pages":3,"pages"\n:3'),
        full.replace(b'"isText": false', b'"isText": false, "isText": false'),
    ):
        assert fast_json(body) is None
        with pytest.raises(ReportFormatError, match="duplicate key"):
            parse_report(body, ReportFormat.JSON)


def test_json_strings_holding_key_ends_still_take_the_fast_path() -> None:
    body = sample("report-full.json").replace(b'"Invoice 2024-05"', b'":a\\":b"')
    fast = fast_json(body)
    assert fast is not None
    assert fast.faxRecipients[0].properties[1].value == ':a":b'
    _exactly(fast, parse_report(body, ReportFormat.JSON))


def test_xml_references_the_renderer_writes_take_the_fast_path() -> None:
    body = sample("report-full.xml").replace(b"Partner<", b"&#13;&lt;&gt;&quot;&apos;&amp;lt;<")
    fast = fast_xml(body)
    assert fast is not None
    assert fast.faxRecipients[0].properties[0].value == "Dr. Müller & \r<>\"'&lt;"
    _exactly(fast, parse_report(body, ReportFormat.XML))
    other = sample("report-full.xml").replace(b"&amp;", b"&#38;")
    assert fast_xml(other) is None
    assert parse(other, XML) == FULL_REPORT_MODEL


@pytest.mark.slow
@given(st.data())
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_mutated_generated_reports_agree(data: st.DataObject) -> None:
    report = data.draw(reports())
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for body, fmt, ctype, edits in (
        (render_xml(report), ReportFormat.XML, XML, _XML_EDITS),
        (render_json(report), ReportFormat.JSON, JSON, _JSON_EDITS),
    ):
        mutated = _mutate(body, edits, rng)
        fast = fast_xml(mutated) if fmt is ReportFormat.XML else fast_json(mutated)
        core = _core(mutated, fmt)
        if fast is not None:
            assert core == ("ok", fast)
        assert _receiver(mutated, ctype) == core


# --- reverse mappings ------------------------------------------------------------------------

JSON_LAYOUT = """{"fax": {"id": {{ report.jobId|json_str }},
          "pageCount": {{ report.pages|json_value }}},
 "results": [{% for r in report.faxRecipients %}{% if not loop.first %},{% endif %}
   {"to": {{ r.number|json_str }}, "state": {{ r.status|json_str }},
    "when": {{ r.sentTS|json_str }}, "seconds": {{ r.durationInSecs|json_value }},
    "alternatives": {{ r.alternativeNumbers|json_value }}}{% endfor %}]}"""
XML_LAYOUT = """<?xml version="1.0"?>
<status job="{{ report.jobId|xml_escape }}">{% for r in report.faxRecipients %}
  <to nr="{{ r.number|xml_escape }}"><state>{{ r.status|xml_escape }}</state>
    {%- for a in r.alternativeNumbers %}<alt>{{ a|xml_escape }}</alt>{% endfor %}</to>
{%- endfor %}
  <pages>{{ report.pages }}</pages>
</status>"""


def test_json_customer_layout_through_a_reverse_mapping() -> None:
    template = PushTemplate("acme.json.j2", JSON_LAYOUT, JSON)
    body = template.render(FULL_REPORT_MODEL)
    mapping = ReverseMapping.from_dict(
        {
            "fields": {"jobId": "fax/id", "pages": "fax/pageCount"},
            "recipients": "results",
            "recipientFields": {
                "number": "to",
                "status": "state",
                "sentTS": "when",
                "durationInSecs": "seconds",
                "alternativeNumbers": "alternatives",
            },
        }
    )
    report = parse(body, JSON, mapping=mapping)
    assert report.jobId == FULL_REPORT_MODEL.jobId
    assert report.pages == 3
    assert [
        (r.number, r.status, r.sentTS, r.durationInSecs, r.alternativeNumbers)
        for r in report.faxRecipients
    ] == [
        (r.number, r.status, r.sentTS, r.durationInSecs, r.alternativeNumbers)
        for r in FULL_REPORT_MODEL.faxRecipients
    ]


def test_xml_customer_layout_through_a_reverse_mapping() -> None:
    template = PushTemplate("acme.xml.j2", XML_LAYOUT, XML)
    body = template.render(FULL_REPORT_MODEL)
    mapping = ReverseMapping(
        fields={"jobId": "@job", "pages": "pages"},
        recipients="to",
        recipient_fields={"number": "@nr", "status": "state", "alternativeNumbers": "alt"},
    )
    report = parse(body, "application/xml", mapping=mapping)
    assert report.jobId == FULL_REPORT_MODEL.jobId
    assert report.pages == 3
    assert [(r.number, r.status, r.alternativeNumbers) for r in report.faxRecipients] == [
        ("+4930123456789", "OK", ("+4930123456000",)),
        ("+4989555000", "BUSY", ()),
    ]


def test_mapping_errors_use_the_customer_locations() -> None:
    mapping = ReverseMapping({"jobId": "id"}, "items", {"number": "n", "durationInSecs": "d"})
    with pytest.raises(ReportFormatError, match=r"items\[1\]/d"):
        parse(b'{"id": "J", "items": [{"n": "1", "d": "soon"}]}', JSON, mapping=mapping)
    with pytest.raises(ReportFormatError, match="list of recipients"):
        parse(b'{"id": "J", "items": {}}', JSON, mapping=mapping)
    with pytest.raises(ReportFormatError, match=r"items\[1\]/n: required field is missing"):
        parse(b'{"id": "J", "items": [{}]}', JSON, mapping=mapping)
    with pytest.raises(UnsafeXmlError):
        parse(b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', XML, mapping=mapping)
    with pytest.raises(ReportFormatError, match="2 elements"):
        parse(b"<r><id>1</id><id>2</id></r>", XML, mapping=mapping)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"fields": {"jobId": "a"}, "recipients": "r"},
        {
            "fields": {"nope": "a", "jobId": "b"},
            "recipients": "r",
            "recipientFields": {"number": "n"},
        },
        {"fields": {"pages": "a"}, "recipients": "r", "recipientFields": {"number": "n"}},
        {"fields": {"jobId": "a"}, "recipients": "r", "recipientFields": {"status": "s"}},
        {"fields": {"jobId": "/"}, "recipients": "r", "recipientFields": {"number": "n"}},
        {"fields": {"jobId": 1}, "recipients": "r", "recipientFields": {"number": "n"}},
    ],
)
def test_bad_mappings_are_configuration_errors(config: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ReverseMapping.from_dict(config)


def test_json_dump_of_golden_is_stable() -> None:
    # The fast JSON path depends on the canonical key order only through the core validator.
    document = json.loads(sample("report-full.json"))
    shuffled = json.dumps(dict(reversed(list(document.items())))).encode()
    assert fast_json(shuffled) == FULL_REPORT_MODEL
