"""The REST API v1 FaxReport view: sample equality, absent values, round trip, strictness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from faxpush.core.errors import ReportFormatError
from faxpush.core.json_codec import parse_json
from faxpush.core.models import Document, FaxJobReport, Options, ReportMail
from faxpush.core.rest_view import from_rest_report, render_rest_json, to_rest_report
from tests.strategies import reports

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"
FULL = (SAMPLES / "report-full.json").read_bytes()
MINIMAL = (SAMPLES / "report-minimal.json").read_bytes()
REST = (SAMPLES / "report-rest.json").read_bytes()


def rest_projection(report: FaxJobReport) -> FaxJobReport:
    """What survives the REST view: no numId, documents, mail, push target or other options."""
    options = report.options
    reference = None
    if options is not None:
        reference = Options(
            customerDefinedId=options.customerDefinedId,
            billingCode=options.billingCode,
            billingInfo=options.billingInfo,
        )
    return FaxJobReport(
        jobId=report.jobId,
        faxRecipients=tuple(r.model_copy(update={"numId": None}) for r in report.faxRecipients),
        options=reference,
        pages=report.pages,
    )


def test_full_report_gives_the_rest_sample() -> None:
    assert to_rest_report(parse_json(FULL)) == json.loads(REST)


@pytest.mark.parametrize("source", ["bytes", "str", "mapping"])
def test_rest_sample_gives_the_rest_fields_of_the_full_report(source: str) -> None:
    data: Any = {"bytes": REST, "str": REST.decode(), "mapping": json.loads(REST)}[source]
    report = from_rest_report(data)
    full = parse_json(FULL)
    assert report == rest_projection(full)
    assert report.faxRecipients[0].sentTS == full.faxRecipients[0].sentTS
    assert report.options is not None
    assert report.options.customerDefinedId == "INV-2024-05-0042"
    assert all(r.numId is None for r in report.faxRecipients)
    assert report.documents == ()


def test_absent_values_are_null_and_alternative_numbers_left_out() -> None:
    assert to_rest_report(parse_json(MINIMAL)) == {
        "jobId": "FJ00000000000000000042",
        "recipientStatus": [
            {
                "number": "+12015551000",
                "properties": None,
                "status": "WRONG_NO",
                "reason": "WRONG_NO",
                "sentTs": None,
                "durationInSecs": 0,
                "sentToNumber": None,
                "remoteCsid": None,
            }
        ],
        "pages": 1,
        "reference": None,
    }


def test_reference_holds_only_the_reference_options() -> None:
    base = {"jobId": "FJ1", "faxRecipients": [{"number": "+1"}]}
    no_reference = parse_json(json.dumps({**base, "options": {"csid": "C", "isExpress": True}}))
    assert to_rest_report(no_reference)["reference"] is None
    assert to_rest_report(no_reference)["pages"] is None
    info_only = parse_json(json.dumps({**base, "options": {"csid": "C", "billingInfo": "I"}}))
    assert to_rest_report(info_only)["reference"] == {"billingInfo": "I"}


def test_render_rest_json_is_utf8_indented_with_final_newline() -> None:
    body = render_rest_json(parse_json(FULL))
    assert json.loads(body) == json.loads(REST)
    assert "Müller".encode() in body
    assert body.startswith(b'{\n  "jobId": ')
    assert body.endswith(b"}\n")


@settings(max_examples=200, deadline=None)
@given(reports())
def test_rest_view_round_trip_keeps_the_rest_fields(report: FaxJobReport) -> None:
    expected = rest_projection(report)
    assert from_rest_report(to_rest_report(report)) == expected
    assert from_rest_report(render_rest_json(report)) == expected


def test_pending_recipients_and_push_only_keys() -> None:
    doc = json.loads(REST)
    doc["recipientStatus"][1].update(status="PENDING", reason=None, sentTs=None)
    doc["documents"] = [{"name": "kept.pdf", "isText": False}]
    doc["reportMail"] = {"successAddress": "kept@example.org"}
    report = from_rest_report(doc)
    assert not report.is_final
    assert report.faxRecipients[1].sentTS is None
    assert report.documents == (Document(name="kept.pdf", isText=False),)
    assert report.reportMail == ReportMail(successAddress="kept@example.org")
    assert report.options == Options(customerDefinedId="INV-2024-05-0042", billingCode="CC-4711")
    doc["options"] = {"csid": "twice"}
    with pytest.raises(ReportFormatError, match="given as options and reference"):
        from_rest_report(doc)


def test_push_spellings_are_read_too() -> None:
    doc = json.loads(REST)
    doc["faxRecipients"] = doc.pop("recipientStatus")
    for recipient in doc["faxRecipients"]:
        recipient["sentTS"] = recipient.pop("sentTs")
    assert from_rest_report(doc) == from_rest_report(REST)


def _broken(change: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(REST)
    first = doc["recipientStatus"][0]
    if change == "sentTs-int":
        first["sentTs"] = 1714986843
    elif change == "duration-str":
        first["durationInSecs"] = "31"
    elif change == "properties-object":
        first["properties"] = {"key": "k", "value": "v"}
    elif change == "reference-list":
        doc["reference"] = ["INV"]
    elif change == "billingCode-int":
        doc["reference"]["billingCode"] = 4711
    elif change == "pages-bool":
        doc["pages"] = True
    elif change == "two-recipient-lists":
        doc["faxRecipients"] = doc["recipientStatus"]
    elif change == "no-recipients":
        del doc["recipientStatus"]
    return doc


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ("sentTs-int", "$.recipientStatus[0].sentTs"),
        ("duration-str", "$.recipientStatus[0].durationInSecs"),
        ("properties-object", "$.recipientStatus[0].properties"),
        ("reference-list", "$.reference"),
        ("billingCode-int", "$.reference.billingCode"),
        ("pages-bool", "$.pages"),
        ("two-recipient-lists", "$"),
        ("no-recipients", "$.faxRecipients"),
    ],
)
def test_malformed_rest_report_names_the_path(change: str, location: str) -> None:
    with pytest.raises(ReportFormatError) as caught:
        from_rest_report(_broken(change))
    assert caught.value.location == location


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{", REST[:-3], REST.replace(b'"pages": 3', b'"pages": NaN'), b"[" * 100_000, 42],
)
def test_malformed_rest_body_raises_report_format_error(body: Any) -> None:
    with pytest.raises(ReportFormatError):
        from_rest_report(body)
