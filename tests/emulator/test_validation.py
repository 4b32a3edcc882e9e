"""Every validation error of POST /fax: 400, a JSON body naming the field, nothing stored."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from faxpush.storage.jobs_base import JobState

from .harness import HELLO, MINIMAL_JOB, Emulator, running_emulator

pytestmark = pytest.mark.asyncio(loop_scope="module")

Job = dict[str, Any]


async def _stored(emulator: Emulator) -> int:
    counts = await emulator.services.jobs.count_jobs()
    return counts[JobState.ACTIVE] + counts[JobState.FINISHED]


def _with(change: Callable[[Job], None]) -> Job:
    job = copy.deepcopy(MINIMAL_JOB)
    change(job)
    return job


def _push(**fields: Any) -> Callable[[Job], None]:
    def change(job: Job) -> None:
        job["statusReportOptions"] = {
            "httpStatusPush": {"targetUrl": "http://127.0.0.1/x", **fields}
        }

    return change


INVALID: list[tuple[str, Callable[[Job], None], str | None, str]] = [
    ("no recipients", lambda j: j.update(recipients=[]), "recipients", "at least one recipient"),
    ("recipients missing", lambda j: j.pop("recipients"), "recipients", "is required"),
    (
        "recipient number not a number",
        lambda j: j["recipients"][0].update(number="call me"),
        "recipients[0].number",
        "not a fax number",
    ),
    (
        "document name with a space",
        lambda j: j["documents"][0].update(name="my invoice.pdf"),
        "documents[0].name",
        "not a valid document name",
    ),
    (
        "document name of 33 characters",
        lambda j: j["documents"][0].update(name="a" * 29 + ".txt"),
        "documents[0].name",
        "at most 32 characters",
    ),
    (
        "document name with a slash",
        lambda j: j["documents"][0].update(name="../etc.txt"),
        "documents[0].name",
        "not a valid document name",
    ),
    (
        "neither document nor cover page",
        lambda j: j.pop("documents"),
        "documents",
        "neither a document nor a cover page",
    ),
    (
        "document without data or reference",
        lambda j: j["documents"][0].pop("data"),
        "documents[0]",
        "data or reference",
    ),
    (
        "bad base64",
        lambda j: j["documents"][0].update(data="SGVsbG8*!"),
        "documents[0].data",
        "not valid base64",
    ),
    (
        "unknown charset",
        lambda j: j["documents"][0].update(charset="KOI8-R"),
        "documents[0].charset",
        "unknown charset 'KOI8-R'",
    ),
    (
        "jobValid.start without a time zone",
        lambda j: j.update(meta={"jobValid": {"start": "2030-05-06T09:00:00"}}),
        "meta.jobValid.start",
        "has no time zone",
    ),
    (
        "jobValid.end neither timestamp nor duration",
        lambda j: j.update(meta={"jobValid": {"end": "tomorrow"}}),
        "meta.jobValid.end",
        "not an ISO 8601 timestamp",
    ),
    (
        "jobValid ending before it starts",
        lambda j: j.update(
            meta={"jobValid": {"start": "2030-05-06T09:00:00Z", "end": "2030-05-06T08:00:00Z"}}
        ),
        "meta.jobValid.end",
        "ends before it starts",
    ),
    (
        "unknown authMethod",
        _push(authMethod="KERBEROS"),
        "statusReportOptions.httpStatusPush.authMethod",
        "unknown authMethod 'KERBEROS'",
    ),
    (
        "targetUrl that is not http(s)",
        _push(targetUrl="ftp://127.0.0.1/push"),
        "statusReportOptions.httpStatusPush.targetUrl",
        "not an http:// or https:// URL",
    ),
    (
        "targetUrl that is not a URL",
        _push(targetUrl="hooks.example.org/fax"),
        "statusReportOptions.httpStatusPush.targetUrl",
        "not an http:// or https:// URL",
    ),
    (
        "HTTP_BASIC without credentials",
        _push(authMethod="HTTP_BASIC", principal="hook"),
        "statusReportOptions.httpStatusPush",
        "needs both principal and credentials",
    ),
    (
        "OAUTH2 on an account without a token URL",
        _push(authMethod="OAUTH2", principal="client", credentials="secret"),
        "statusReportOptions.httpStatusPush.authMethod",
        "OAuth2 token URL",
    ),
    (
        "csid longer than 20",
        lambda j: j.update(transportOptions={"csid": "x" * 21}),
        "transportOptions.csid",
        "at most 20 characters",
    ),
    (
        "customerDefinedId longer than 256",
        lambda j: j.update(reference={"customerDefinedId": "x" * 257}),
        "reference.customerDefinedId",
        "at most 256 characters",
    ),
    (
        "unknown paper format",
        lambda j: j.update(renderingOptions={"paperFormat": "A5"}),
        "renderingOptions.paperFormat",
        "'A4' or 'LETTER'",
    ),
    (
        "a boolean that is a list",
        lambda j: j.update(transportOptions={"isExpress": [True]}),
        "transportOptions.isExpress",
        "valid boolean",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [pytest.param(change, field, problem, id=name) for name, change, field, problem in INVALID],
)
async def test_an_invalid_job_is_refused_with_its_field_named(
    shared_emulator: Emulator, change: Callable[[Job], None], field: str, problem: str
) -> None:
    emulator = shared_emulator
    before = await _stored(emulator)
    status, body = await emulator.call("POST", body=_with(change))

    assert status == 400, body
    assert body["status"] == 400
    assert body["error"] == "BAD_REQUEST"
    assert body["field"] == field
    assert problem in body["problem"]
    assert field in body["message"]
    assert await _stored(emulator) == before


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"recipients": [', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'[{"recipients": []}]', "must be a JSON object"),
        (b'"a fax"', "must be a JSON object"),
    ],
)
async def test_an_unparsable_body_is_400(
    shared_emulator: Emulator, raw: bytes, problem: str
) -> None:
    emulator = shared_emulator
    before = await _stored(emulator)
    status, body = await emulator.call("POST", body=raw)

    assert status == 400
    assert body["field"] is None
    assert problem in body["problem"]
    assert await _stored(emulator) == before


async def test_the_boundaries_are_accepted(shared_emulator: Emulator) -> None:
    job = {
        "recipients": [{"number": "+49 (89) 1234567-8900", "properties": None}],
        "documents": [
            {"name": "A" * 28 + ".txt", "data": "SGVs\nbG8=", "charset": "windows-1252"},
            {"name": "scan.pdf", "reference": "https://docs.example.org/scan.pdf", "charset": None},
        ],
        "transportOptions": {"csid": "x" * 20},
        "reference": {"customerDefinedId": "x" * 256, "billingCode": "b" * 80},
        "meta": {"jobValid": {"start": "2030-05-06T09:00:00+02:00", "end": "P1M"}},
        "statusReportOptions": {
            "httpStatusPush": {"targetUrl": "http://127.0.0.1/x", "authMethod": "none"}
        },
        "rendering_options": None,  # an unknown key, as one official SDK sends
    }

    status, body = await shared_emulator.call("POST", body=job)

    assert status == 201, body


async def test_a_cover_page_alone_is_a_valid_job(shared_emulator: Emulator) -> None:
    job = {
        "recipients": [{"number": "+12015551000"}],
        "renderingOptions": {"coverpageTemplate": "coverpage-default.ftl.html"},
    }
    job_id = await shared_emulator.send(job)

    record = await shared_emulator.finished(job_id)
    assert record.report is not None
    assert record.report.pages == 1


async def test_a_body_over_the_limit_is_413_and_stores_nothing(tmp_path: Any) -> None:
    async with running_emulator(tmp_path, max_request_bytes=4096) as emulator:
        big = _with(lambda j: j["documents"][0].update(data=HELLO * 400))
        status, body = await emulator.call("POST", body=json.dumps(big).encode())

        assert status == 413
        assert body["error"] == "PAYLOAD_TOO_LARGE"
        assert "4096" in body["message"]
        assert (await emulator.services.jobs.count_jobs())[JobState.ACTIVE] == 0
        assert (await emulator.call("POST", body=MINIMAL_JOB))[0] == 201
