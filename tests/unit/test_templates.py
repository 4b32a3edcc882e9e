"""Customer push templates: rendering, escaping helpers, error messages and the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from faxpush.core.errors import InputError, TemplateError
from faxpush.core.json_codec import JSON_CONTENT_TYPE, parse_json
from faxpush.core.models import FaxJobReport, Property, RecipientStatus
from faxpush.core.templates import (
    TEXT_CONTENT_TYPE,
    PushTemplate,
    guess_content_type,
    json_str,
    xml_escape,
)
from faxpush.core.xml_codec import XML_CONTENT_TYPE

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"


@pytest.fixture(scope="module")
def report() -> FaxJobReport:
    return parse_json((SAMPLES / "report-full.json").read_bytes())


def _render(source: str, report: FaxJobReport, name: str = "acme.txt.j2") -> str:
    return PushTemplate(name, source, TEXT_CONTENT_TYPE).render(report).decode("utf-8")


def _render_error(source: str, report: FaxJobReport, name: str = "acme.xml.j2") -> str:
    with pytest.raises(TemplateError) as info:
        PushTemplate(name, source, XML_CONTENT_TYPE).render(report)
    return str(info.value)


# --- rendering ---------------------------------------------------------------------------------

ACME_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<acmeFaxStatus job="{{ report.jobId | xml_escape }}">
{%- for r in report.faxRecipients %}
  <to number="{{ r.number }}" ok="{{ r.status == 'OK' }}" class="{{ r.status | status_class }}">
    {%- for p in r.properties %}<p k="{{ p.key | xml_escape }}">{{ p.value | xml_escape }}</p>
    {%- endfor %}</to>
{%- endfor %}
</acmeFaxStatus>
"""


def test_renders_report_data_into_a_customer_layout(report: FaxJobReport) -> None:
    template = PushTemplate("acme.xml.j2", ACME_XML, XML_CONTENT_TYPE)

    body = template.render(report)

    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<acmeFaxStatus job="FJ7QK2M9X40ABCDEFGH123">\n'
        b'  <to number="+4930123456789" ok="True" class="success">'
        b'<p k="ToName">Dr. M\xc3\xbcller &amp; Partner</p><p k="SubjectTitle">Invoice 2024-05</p>'
        b"</to>\n"
        b'  <to number="+4989555000" ok="False" class="line"></to>\n'
        b"</acmeFaxStatus>\n"
    )
    template.check_output(body)


def test_report_is_plain_json_data_with_absent_fields_as_none(report: FaxJobReport) -> None:
    source = (
        "{{ report.faxRecipients[0].sentTS }}|{{ report.pages + 1 }}|"
        "{{ report.options.header is none }}|{{ report.options.isExpress }}|"
        "{{ report.httpStatusPush.authMethod }}|{{ report.faxRecipients | length }}"
    )

    assert _render(source, report) == "2024-05-06T09:14:03Z|4|True|True|HTTP_DIGEST|2"


def test_json_template_with_json_str_and_json_value(report: FaxJobReport) -> None:
    source = (
        '{"job": {{ report.jobId | json_str }}, "mail": {{ report.reportMail.successAddress '
        '| json_str }}, "header": {{ report.options.header | json_str }}, "pages": '
        '{{ report.pages | json_value }}, "numbers": {{ report.faxRecipients '
        '| map(attribute="number") | list | json_value }}, "name": '
        "{{ report.faxRecipients[0].properties[0].value | json_str }}}"
    )
    template = PushTemplate("acme.json.j2", source, JSON_CONTENT_TYPE)

    body = template.render(report)

    template.check_output(body)
    assert json.loads(body) == {
        "job": "FJ7QK2M9X40ABCDEFGH123",
        "mail": "fax-ok@example.org",
        "header": None,
        "pages": 3,
        "numbers": ["+4930123456789", "+4989555000"],
        "name": "Dr. Müller & Partner",
    }
    assert "Müller".encode() in body


def test_status_helpers(report: FaxJobReport) -> None:
    source = "{% for r in report.faxRecipients %}{{ r.status | status_meaning }};{% endfor %}"
    assert _render(source, report) == "all pages delivered;line busy;"
    assert _render("{{ 'NEW_CODE' | status_class }}", report) == "unknown"


def test_rendering_is_repeatable_and_keeps_no_state(report: FaxJobReport) -> None:
    source = "{% set ns = namespace(n=0) %}{% for r in report.faxRecipients %}"
    source += "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"
    template = PushTemplate("count.txt", source, TEXT_CONTENT_TYPE)
    minimal = parse_json((SAMPLES / "report-minimal.json").read_bytes())

    assert template.render(report) == b"2"
    assert template.render(minimal) == b"1"
    assert template.render(report) == b"2"


def test_trailing_newline_is_kept(report: FaxJobReport) -> None:
    assert _render("{{ report.pages }}\n", report) == "3\n"


# --- escaping helpers --------------------------------------------------------------------------


def test_xml_escape_escapes_markup_and_quotes() -> None:
    assert xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;"
    assert xml_escape("1\t2\r\n3") == "1&#9;2&#13;&#10;3"
    assert xml_escape(None) == ""
    assert xml_escape(True) == "true"
    assert xml_escape(31) == "31"


def test_json_str_quotes_and_escapes() -> None:
    assert json_str('say "hi"\n') == '"say \\"hi\\"\\n"'
    assert json_str(None) == "null"
    assert json_str("Müller") == '"Müller"'


XML_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or ord(c) >= 0x20
    ),
    max_size=40,
)


def _report_with_property(value: str) -> FaxJobReport:
    recipient = RecipientStatus(number="+491", properties=(Property(key="k", value=value),))
    return FaxJobReport(jobId="FJ1", faxRecipients=(recipient,))


@given(XML_TEXT)
def test_escaped_values_survive_a_round_trip_through_xml_and_json(value: str) -> None:
    report = _report_with_property(value)
    xml_template = PushTemplate(
        "p.xml",
        '<p v="{{ report.faxRecipients[0].properties[0].value | xml_escape }}">'
        "{{ report.faxRecipients[0].properties[0].value | xml_escape }}</p>",
        XML_CONTENT_TYPE,
    )
    json_template = PushTemplate(
        "p.json",
        '{"v": {{ report.faxRecipients[0].properties[0].value | json_str }}}',
        JSON_CONTENT_TYPE,
    )

    element = etree.fromstring(xml_template.render(report))
    assert (element.text or "") == value
    assert element.get("v") == value
    assert json.loads(json_template.render(report)) == {"v": value}


# --- error messages ----------------------------------------------------------------------------


def test_undefined_variable_names_template_and_line(report: FaxJobReport) -> None:
    source = "<a>\n  {{ report.jobId }}\n  {{ foo }}\n</a>\n"
    assert _render_error(source, report) == "template 'acme.xml.j2', line 3: 'foo' is undefined"


def test_missing_key_is_an_error_not_an_empty_string(report: FaxJobReport) -> None:
    message = _render_error("{{ report.jobId }}\n{{ report.faxRecipients[0].nope }}", report)
    assert message.startswith("template 'acme.xml.j2', line 2: ")
    assert "nope" in message


@pytest.mark.parametrize("helper", ["xml_escape", "json_str", "json_value", "status_class"])
def test_undefined_value_passed_to_a_helper_is_reported_as_undefined(
    report: FaxJobReport, helper: str
) -> None:
    message = _render_error(f"{{{{ report.jobid | {helper} }}}}", report)
    assert message == "template 'acme.xml.j2', line 1: 'dict object' has no attribute 'jobid'"


def test_syntax_error_is_reported_at_compile_time_with_line() -> None:
    with pytest.raises(TemplateError) as info:
        PushTemplate("bad.xml.j2", "<a>\n{% for r in report.faxRecipients %}\n</a>\n", "text/xml")
    message = str(info.value)
    assert message.startswith("template 'bad.xml.j2', line ")
    assert "endfor" in message
    assert isinstance(info.value, InputError)


def test_runtime_exception_names_line_and_kind(report: FaxJobReport) -> None:
    message = _render_error("ok\n{{ report.pages // 0 }}", report)
    assert message.startswith("template 'acme.xml.j2', line 2: ZeroDivisionError")


def test_error_message_is_one_line(report: FaxJobReport) -> None:
    message = _render_error("{{ report.faxRecipients[0].number.nope }}", report)
    assert "\n" not in message


def test_content_type_is_required() -> None:
    with pytest.raises(TemplateError, match="content type is empty"):
        PushTemplate("x", "x", " ")


# --- the sandbox -------------------------------------------------------------------------------

ESCAPES = [
    "{{ report.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ report.faxRecipients.__class__.__base__.__subclasses__() }}",
    "{{ range.__globals__ }}",
    "{{ namespace.__init__.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ __import__('os').system('true') }}",
    "{{ os.environ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ config }}",
    "{{ open('/etc/passwd').read() }}",
    "{{ report.update({'jobId': 'x'}) }}",
    "{{ report.faxRecipients.append(1) }}",
    "{{ report.jobId.format.__globals__ }}",
    "{{ '{0.__class__}'.format(report) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_refuses_internals_and_the_system(report: FaxJobReport, source: str) -> None:
    with pytest.raises(TemplateError) as info:
        PushTemplate("evil.txt", source, TEXT_CONTENT_TYPE).render(report)
    assert str(info.value).startswith("template 'evil.txt', line 1: ")


@pytest.mark.parametrize(
    "statement",
    [
        "{% include PATH %}",
        "{% import PATH as secret %}",
        "{% from PATH import secret %}",
        "{% extends PATH %}",
    ],
)
def test_templates_cannot_read_files(tmp_path: Path, statement: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    source = "line one\n" + statement.replace("PATH", json.dumps(str(secret)))

    with pytest.raises(TemplateError) as info:
        PushTemplate("evil.txt", source, TEXT_CONTENT_TYPE)

    assert str(info.value).startswith("template 'evil.txt', line 2: templates cannot include")
    assert "TOP-SECRET-VALUE" not in str(info.value)


def test_template_does_not_mutate_the_report(report: FaxJobReport) -> None:
    before = report.model_dump()
    with pytest.raises(TemplateError):
        _render("{% set x = report.faxRecipients.pop() %}", report)
    assert report.model_dump() == before


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10000000 }}",
        "{{ [1] * 10000000 }}",
        "{{ 10 ** 100000 }}",
        "{% for i in range(1000000) %}{% endfor %}",
    ],
)
def test_sandbox_refuses_huge_values(report: FaxJobReport, source: str) -> None:
    with pytest.raises(TemplateError):
        _render(source, report)


def test_output_size_is_capped(report: FaxJobReport) -> None:
    template = PushTemplate(
        "big.txt",
        "{% for i in range(1000) %}{{ report.jobId }}{% endfor %}",
        TEXT_CONTENT_TYPE,
        max_output_bytes=1000,
    )
    with pytest.raises(TemplateError, match="output exceeds 1000 bytes"):
        template.render(report)


def test_small_arithmetic_still_works(report: FaxJobReport) -> None:
    assert _render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 3 * 4 }}", report) == "1024 ababab 12"


# --- from_bytes, content types and output checks -----------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("acme.xml", XML_CONTENT_TYPE),
        ("acme.XML.j2", XML_CONTENT_TYPE),
        ("dir.v2/acme.json.jinja2", JSON_CONTENT_TYPE),
        ("acme.txt.tpl", TEXT_CONTENT_TYPE),
        ("acme.j2", None),
        ("acme", None),
        ("acme.html", None),
    ],
)
def test_guess_content_type(filename: str, expected: str | None) -> None:
    assert guess_content_type(filename) == expected


def test_from_bytes_guesses_type_and_strips_bom(report: FaxJobReport) -> None:
    template = PushTemplate.from_bytes("acme.json.j2", b"\xef\xbb\xbf{{ report.pages }}")
    assert template.content_type == JSON_CONTENT_TYPE
    assert template.render(report) == b"3"


def test_from_bytes_explicit_content_type_wins() -> None:
    template = PushTemplate.from_bytes("layout", b"x", "application/vnd.acme+xml")
    assert template.content_type == "application/vnd.acme+xml"


def test_from_bytes_unknown_type_asks_for_one() -> None:
    with pytest.raises(TemplateError, match=r"template 'layout\.j2': cannot tell its content type"):
        PushTemplate.from_bytes("layout.j2", b"x")


def test_from_bytes_refuses_invalid_utf8_naming_the_line() -> None:
    with pytest.raises(TemplateError, match=r"template 'a\.txt', line 2: not valid UTF-8"):
        PushTemplate.from_bytes("a.txt", b"ok\nM\xfcller")


@pytest.mark.parametrize(
    ("content_type", "body", "problem"),
    [
        (XML_CONTENT_TYPE, b"<a><b></a>", "not well-formed XML: line 1"),
        ("application/vnd.acme+xml", b"<a>", "not well-formed XML"),
        (JSON_CONTENT_TYPE, b'{"a": 1,}', "not valid JSON: line 1 column 9"),
        ("application/problem+json", b"\xff", "not UTF-8"),
    ],
)
def test_check_output_refuses_malformed_bodies(
    content_type: str, body: bytes, problem: str
) -> None:
    template = PushTemplate("t", "x", content_type)
    with pytest.raises(TemplateError) as info:
        template.check_output(body)
    assert problem in str(info.value)
    assert str(info.value).startswith("template 't': the output is ")


def test_check_output_accepts_well_formed_and_unchecked_types() -> None:
    PushTemplate("t", "x", XML_CONTENT_TYPE).check_output(b"<a/>")
    PushTemplate("t", "x", JSON_CONTENT_TYPE).check_output(b"[1]")
    PushTemplate("t", "x", TEXT_CONTENT_TYPE).check_output(b"<a")


def test_repr_names_template() -> None:
    template = PushTemplate("acme.xml", "x", XML_CONTENT_TYPE)
    assert repr(template) == f"PushTemplate(name='acme.xml', content_type={XML_CONTENT_TYPE!r})"
