"""Input that used to crash the API with 500: extreme times, deep nesting; and 500 bodies.

Every case goes over real HTTP to the emulator on 127.0.0.1. The property tests send
generated ``jobValid`` values and bulk bodies and allow only the answers a client can act
on: 201/200 or 400 naming the field, never 5xx.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faxpush.storage.jobs_base import JobState

from .harness import MINIMAL_JOB, Emulator

pytestmark = pytest.mark.asyncio(loop_scope="module")

INTERNAL_ERROR = {
    "status": 500,
    "error": "INTERNAL_SERVER_ERROR",
    "message": "unexpected server error",
}


def _job_valid(**valid: str) -> dict[str, Any]:
    job = copy.deepcopy(MINIMAL_JOB)
    job["meta"] = {"jobValid": valid}
    return job


async def _stored(emulator: Emulator) -> int:
    counts = await emulator.services.jobs.count_jobs()
    return counts[JobState.ACTIVE] + counts[JobState.FINISHED]


@pytest.mark.parametrize(
    ("valid", "field", "problem"),
    [
        pytest.param({"end": "P99999999999Y"}, "meta.jobValid.end", "must end before", id="P1e11Y"),
        pytest.param(
            {"end": "PT99999999999999999999S"}, "meta.jobValid.end", "must end before", id="PT1e20S"
        ),
        pytest.param(
            {"end": "P" + "9" * 5000 + "D"},
            "meta.jobValid.end",
            "must end before",
            id="5000-digits",
        ),
        pytest.param({"end": "P2000000Y"}, "meta.jobValid.end", "must end before", id="P2e6Y"),
        pytest.param(
            {"end": "9999-12-31T23:59:59Z"}, "meta.jobValid.end", "must end before", id="end-9999"
        ),
        pytest.param(
            {"start": "9999-12-31T23:59:59Z"},
            "meta.jobValid.start",
            "give an earlier start",
            id="start-9999",
        ),
        pytest.param(
            {"start": "9999-12-31T23:59:59Z", "end": "9999-12-31T23:59:59.999999Z"},
            "meta.jobValid.end",
            "must end before",
            id="start-and-end-9999",
        ),
        pytest.param(
            {"start": "0001-01-01T00:00:00+14:00"},
            "meta.jobValid.start",
            "outside years 1-9999",
            id="start-year-0-in-utc",
        ),
        pytest.param(
            {"end": "9999-12-31T23:59:59-14:00"},
            "meta.jobValid.end",
            "outside years 1-9999",
            id="end-year-10000-in-utc",
        ),
    ],
)
async def test_extreme_job_validity_is_400_naming_the_field(
    shared_emulator: Emulator, valid: dict[str, str], field: str, problem: str
) -> None:
    before = await _stored(shared_emulator)

    status, body = await shared_emulator.call("POST", body=_job_valid(**valid))

    assert status == 400, body
    assert body["error"] == "BAD_REQUEST"
    assert body["field"] == field
    assert problem in body["problem"]
    assert await _stored(shared_emulator) == before


async def test_a_purge_time_outside_utc_years_is_400(shared_emulator: Emulator) -> None:
    job = {**MINIMAL_JOB, "statusReportOptions": {"reportPurgeTs": "0001-01-01T00:00:00+14:00"}}

    status, body = await shared_emulator.call("POST", body=job)

    assert status == 400, body
    assert body["field"] == "statusReportOptions.reportPurgeTs"


async def test_the_earliest_times_are_accepted(shared_emulator: Emulator) -> None:
    job = _job_valid(start="0001-01-01T00:00:00Z", end="PT1S")

    job_id = await shared_emulator.send(job)

    record = await shared_emulator.finished(job_id)
    assert record.report is not None
    assert record.report.faxRecipients[0].status == "EXPIRED"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        pytest.param("/reports", b"[" * 100_000, id="bulk-open-brackets"),
        pytest.param("/reports", b'{"action": "GET", "jobIds": ' + b"[" * 5000, id="bulk-inside"),
        pytest.param("", b"[" * 100_000, id="job-open-brackets"),
        pytest.param("", b'{"recipients": ' + b'{"a": ' * 50_000, id="job-nested-objects"),
    ],
)
async def test_deeply_nested_bodies_are_400(
    shared_emulator: Emulator, path: str, raw: bytes
) -> None:
    status, body = await shared_emulator.call("POST", path, body=raw)

    assert status == 400, body
    assert body["field"] is None
    assert "not valid JSON" in body["problem"]
    assert "recursion" in body["problem"]


async def test_a_bug_answers_a_json_500_without_traceback_and_keeps_the_connection(
    shared_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(shared_emulator.services.jobs, "get_job", broken)
    caplog.set_level(logging.ERROR, logger="faxpush.emulator")
    url = shared_emulator.api("/reports/FJ00000000000000000000")
    headers = {"Authorization": shared_emulator.auth}

    async with shared_emulator.session.get(url, headers=headers) as response:
        raw = await response.read()
        assert response.status == 500
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers.get("Connection", "keep-alive").lower() != "close"
    assert json.loads(raw) == INTERNAL_ERROR
    assert b"Traceback" not in raw
    assert b"secret detail" not in raw
    assert "secret detail of a bug" in caplog.text
    assert "Traceback" in caplog.text  # the log, unlike the body, has it
    monkeypatch.undo()
    assert (await shared_emulator.call("GET", "/reports"))[0] == 200


# --- property tests ------------------------------------------------------------------------

_ZONES = st.sampled_from(["Z", "+14:00", "-14:00", "+00:00", "+23:59", "-23:59", ""])
_TIMESTAMPS = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(1, 9999),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", ".5", ".999999"]),
    _ZONES,
)
_HUGE = st.one_of(st.integers(0, 100), st.integers(0, 10**40)).map(str)
_DURATIONS = st.builds(
    lambda parts, time: "P" + "".join(parts) + time,
    st.lists(st.tuples(_HUGE, st.sampled_from("YMWD")).map("".join), max_size=4),
    st.one_of(
        st.just(""),
        st.lists(st.tuples(_HUGE, st.sampled_from("HMS")).map("".join), max_size=3).map(
            lambda parts: "T" + "".join(parts)
        ),
    ),
)
_TIME_VALUES = st.one_of(_TIMESTAMPS, _DURATIONS, st.text(max_size=30))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.one_of(st.none(), _TIMESTAMPS, st.text(max_size=30)),
    end=st.one_of(st.none(), _TIME_VALUES),
)
async def test_no_job_validity_value_gets_a_5xx(
    shared_emulator: Emulator, start: str | None, end: str | None
) -> None:
    valid = {key: value for key, value in (("start", start), ("end", end)) if value is not None}

    status, body = await shared_emulator.call("POST", body=_job_valid(**valid))

    assert status in (201, 400), body
    if status == 400:
        assert body["field"] in ("meta.jobValid.start", "meta.jobValid.end"), body


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["action", "jobIds", "x"]) | st.text(max_size=5), children
        )
    ),
    max_leaves=20,
)
_BULK_BODIES = st.one_of(
    _JSON.map(lambda value: json.dumps(value).encode()),
    st.builds(
        lambda action, ids: json.dumps({"action": action, "jobIds": ids}).encode(),
        st.sampled_from(["GET", "delete", "Get", "PUT", ""]) | st.text(max_size=8),
        st.lists(st.text(max_size=24), max_size=5) | _JSON,
    ),
    st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.binary(max_size=64),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=_BULK_BODIES)
async def test_no_bulk_body_gets_a_5xx(shared_emulator: Emulator, raw: bytes) -> None:
    status, body = await shared_emulator.call("POST", "/reports", body=raw)

    assert status in (200, 400), body
    if status == 400:
        assert body["field"] in (None, "action", "jobIds"), body
