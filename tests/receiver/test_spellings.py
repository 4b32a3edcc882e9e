"""A parse never drops a field it recognises, whatever mix of spellings the sender used.

Each field of a JSON report may be spelled after the XML elements, the push layout or the
REST API, independently of the others. The property test spells every field of a generated
report its own way and expects the canonical model back from ``parse_report`` (detected and
explicit formats) and the receiver's ``parse``; another does the same for the XML layout's
namespace forms and ``sentTs``; the cases below are the ones once dropped.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import ReportFormat, parse_report
from faxpush.core.json_codec import render_json
from faxpush.core.models import FaxJobReport, Options, Overlay, OverlayMode
from faxpush.core.xml_codec import NAMESPACE, render_xml
from faxpush.receiver.fastpath import fast_json
from faxpush.receiver.parse import parse
from tests.acceptance.test_cli_report import assert_bad_input, assert_ok, faxpush
from tests.receiver.test_http import receiver_server
from tests.samples import FULL_REPORT_MODEL, sample
from tests.strategies import reports, spell, spelling_choices

JSON_TYPE = "application/json"
FULL: dict[str, Any] = json.loads(sample("report-full.json"))
EVERY_OPTION = Options(
    csid="ACME",
    header="Invoice",
    isExpress=True,
    isBlacklistEnabled=False,
    resolution="LOW",
    paperFormat="LETTER",
    coverpageTemplate="cover.ftl.html",
    overlay=Overlay(name="letterhead", mode=OverlayMode.FIRST_PAGE),
    customerReference="order 42",
    customerDefinedId="INV-1",
    billingCode="CC-1",
    billingInfo="dept 7",
    jobValidStart="2024-05-06T07:00:00Z",
    jobValidEnd="2024-06-06T07:00:00Z",
)
EVERY_OPTION_MODEL = FULL_REPORT_MODEL.model_copy(update={"options": EVERY_OPTION})


def _every_reading(document: dict[str, Any]) -> list[FaxJobReport]:
    body = json.dumps(document, ensure_ascii=False).encode()
    return [
        parse_report(body),
        parse_report(body, ReportFormat.JSON),
        parse_report(body, ReportFormat.REST),
        parse(body, JSON_TYPE),
    ]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(reports(), spelling_choices(), st.randoms(use_true_random=False))
def test_every_mix_of_spellings_gives_the_canonical_model(
    report: FaxJobReport, choices: dict[str, str], order: random.Random
) -> None:
    document = spell(json.loads(render_json(report)), choices)
    keys = list(document)
    order.shuffle(keys)
    shuffled = {key: document[key] for key in keys}
    for parsed in _every_reading(shuffled):
        assert parsed == report


def _xml_spelled(body: bytes, namespace: str, sent: str) -> bytes:
    text = body.decode().replace("sentTS>", f"{sent}>")
    if namespace == "none":
        return text.replace(f' xmlns="{NAMESPACE}"', "").encode()
    if namespace == "prefixed":
        text = text.replace(f'xmlns="{NAMESPACE}"', f'xmlns:fx="{NAMESPACE}"')
        return re.sub(r"<(/?)([A-Za-z])", r"<\1fx:\2", text).encode()
    return text.encode()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    reports(),
    st.sampled_from(["default", "prefixed", "none"]),
    st.sampled_from(["sentTS", "sentTs"]),
)
def test_xml_in_every_accepted_namespace_and_spelling_gives_the_canonical_model(
    report: FaxJobReport, namespace: str, sent: str
) -> None:
    body = _xml_spelled(render_xml(report), namespace, sent)
    assert parse_report(body) == report
    assert parse(body, "text/xml") == report


# --- the cases once dropped, one by one ---------------------------------------------------------


def _renamed(document: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if key == old else key: value for key, value in document.items()}


def _rest_recipients(document: dict[str, Any]) -> dict[str, Any]:
    return _renamed(document, "faxRecipients", "recipientStatus")


def _status_report_options(document: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in document.items() if k not in ("reportMail", "httpStatusPush")}
    push = _renamed(document["httpStatusPush"], "url", "targetUrl")
    push.update(principal="faxhook", credentials="never kept")
    result["statusReportOptions"] = {"reportMail": document["reportMail"], "httpStatusPush": push}
    return result


def _rest_options(document: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in document.items() if k != "options"}
    result.update(
        transportOptions={"csid": "ACME", "isExpress": True, "isBlacklistEnabled": False},
        renderingOptions={
            "paperFormat": "LETTER",
            "resolution": "LOW",
            "coverpageTemplate": "cover.ftl.html",
            "overlay": {"name": "letterhead", "mode": "FIRST_PAGE"},
            "header": "Invoice",
        },
        reference={"customerDefinedId": "INV-1", "billingCode": "CC-1", "billingInfo": "dept 7"},
        meta={
            "customerReference": "order 42",
            "jobValid": {"start": "2024-05-06T09:00:00+02:00", "end": "2024-06-06T07:00:00Z"},
        },
    )
    return result


def _rest_reference_only(document: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in document.items() if k != "options"}
    result["reference"] = {"customerDefinedId": "INV-2024-05-0042", "billingCode": "CC-4711"}
    options = {k: v for k, v in document["options"].items() if k not in result["reference"]}
    result["transportOptions"] = {k: options.pop(k) for k in ("csid", "isExpress")}
    result["renderingOptions"] = options
    return result


def _with_target_url(document: dict[str, Any]) -> dict[str, Any]:
    push = _renamed(document["httpStatusPush"], "url", "targetUrl")
    return {**document, "httpStatusPush": push}


ONCE_DROPPED = {
    # recipientStatus (REST) next to push-spelled groups: all of them were dropped
    "httpStatusPush.url with recipientStatus": (_rest_recipients(FULL), FULL_REPORT_MODEL),
    "httpStatusPush.targetUrl with recipientStatus": (
        _rest_recipients(_with_target_url(FULL)),
        FULL_REPORT_MODEL,
    ),
    "reportMail, documents and options with recipientStatus": (
        _rest_recipients(FULL),
        FULL_REPORT_MODEL,
    ),
    # a REST reference next to push spellings (faxRecipients): dropped
    "reference with faxRecipients": (_rest_reference_only(FULL), FULL_REPORT_MODEL),
    "reference with recipientStatus": (
        _rest_recipients(_rest_reference_only(FULL)),
        FULL_REPORT_MODEL,
    ),
    # the REST job request's blocks: dropped in every layout
    "statusReportOptions": (_status_report_options(FULL), FULL_REPORT_MODEL),
    "statusReportOptions with recipientStatus": (
        _rest_recipients(_status_report_options(FULL)),
        FULL_REPORT_MODEL,
    ),
    "meta, transportOptions, renderingOptions and reference": (
        _rest_options(FULL),
        EVERY_OPTION_MODEL,
    ),
}


@pytest.mark.parametrize("case", list(ONCE_DROPPED))
def test_each_field_once_dropped_is_kept(case: str) -> None:
    document, expected = ONCE_DROPPED[case]
    for parsed in _every_reading(document):
        assert parsed == expected
    assert fast_json(json.dumps(document).encode()) is None  # the full parser read these


def test_report_parse_prints_the_fields_once_dropped(tmp_path: Path) -> None:
    document, _ = ONCE_DROPPED["statusReportOptions with recipientStatus"]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(document))
    printed = json.loads(assert_ok(faxpush("report", "parse", path)))
    assert printed == json.loads(FULL_REPORT_MODEL.model_dump_json())
    assert "never kept" not in json.dumps(printed)


def test_the_receiver_stores_the_fields_once_dropped() -> None:
    document, _ = ONCE_DROPPED["statusReportOptions with recipientStatus"]
    with receiver_server() as (server, receipts):
        answer = requests.post(
            server.url("/push"),
            data=json.dumps(document).encode(),
            headers={"Content-Type": JSON_TYPE},
            timeout=10,
        )
    assert answer.status_code == 200
    assert [r.report for r in receipts] == [FULL_REPORT_MODEL]


# --- two spellings of one field, and what a report cannot hold -----------------------------------


def _both(document: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {**document, **more}


REFUSED = {
    "options and reference": (
        _both(FULL, reference={"billingCode": "CC-4711"}),
        "$",
        "the same field is given as options and reference; send only one of them",
    ),
    "options and meta": (
        _both(FULL, meta={"customerReference": "x"}),
        "$",
        "given as options and meta",
    ),
    "reportMail twice": (
        _both(FULL, statusReportOptions={"reportMail": FULL["reportMail"]}),
        "$",
        "given as reportMail and statusReportOptions.reportMail",
    ),
    "httpStatusPush twice": (
        _both(FULL, statusReportOptions={"httpStatusPush": {"targetUrl": "https://x"}}),
        "$",
        "given as httpStatusPush and statusReportOptions.httpStatusPush",
    ),
    "url and targetUrl": (
        _both(FULL, httpStatusPush={"url": "https://x", "targetUrl": "https://x"}),
        "$.httpStatusPush",
        "given as url and targetUrl",
    ),
    "two recipient lists": (
        _both(FULL, recipientStatus=FULL["faxRecipients"]),
        "$",
        "given as faxRecipients and recipientStatus",
    ),
    "reportPurgeTs": (
        _both(_status_report_options(FULL), statusReportOptions={"reportPurgeTs": "2024-06-01"}),
        "$.statusReportOptions.reportPurgeTs",
        "cannot be read into a report",
    ),
    "jobValid.end as a duration": (
        {**_rest_options(FULL), "meta": {"jobValid": {"end": "PT80M"}}},
        "$.meta.jobValid.end",
        "a duration cannot be carried in a report",
    ),
    "reference not an object": (
        {**_rest_options(FULL), "reference": ["INV-1"]},
        "$.reference",
        "expected an object, got an array",
    ),
    "jobValid not an object": (
        {**_rest_options(FULL), "meta": {"jobValid": 5}},
        "$.meta.jobValid",
        "expected an object, got an integer",
    ),
    "statusReportOptions not an object": (
        {**_rest_recipients(FULL), "statusReportOptions": "x"},
        "$.statusReportOptions",
        "expected an object, got a string",
    ),
    "a wrong type inside a REST block": (
        {**_rest_options(FULL), "transportOptions": {"isExpress": "yes"}},
        "$.transportOptions.isExpress",
        "expected a boolean",
    ),
    "an invalid value inside a REST block": (
        {**_rest_options(FULL), "renderingOptions": {"overlay": {"name": "o", "mode": "SOME"}}},
        "$.renderingOptions.overlay.mode",
        "Input should be",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_conflicts_and_unrepresentable_fields_are_errors(case: str) -> None:
    document, location, problem = REFUSED[case]
    body = json.dumps(document).encode()
    for fmt in (None, ReportFormat.JSON, ReportFormat.REST):
        with pytest.raises(ReportFormatError) as refused:
            parse_report(body, fmt)
        assert refused.value.location == location
        assert problem in refused.value.problem
    with pytest.raises(ReportFormatError):
        parse(body, JSON_TYPE)


def test_report_parse_names_both_spellings_in_one_line(tmp_path: Path) -> None:
    document, _, _ = REFUSED["options and reference"]
    path = tmp_path / "both.json"
    path.write_text(json.dumps(document))
    err = assert_bad_input(faxpush("report", "parse", path), f"faxpush: {path}: $: ")
    assert "options and reference" in err
