"""``faxpush report sample``: the shipped sample is a valid report in each layout and with
each final status, piped into ``faxpush report parse -`` as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faxpush.cli.report import _PUSH_STATUSES, _SAMPLES, _with_status
from faxpush.core.formats import ReportFormat, parse_report, render_report

SPEC_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"
CLI = [sys.executable, "-m", "faxpush.cli"]


def sample_piped_into_parse(*sample_args: str) -> dict[str, object]:
    """Run ``faxpush report sample ARGS | faxpush report parse -`` through a real pipe."""
    with subprocess.Popen(
        [*CLI, "report", "sample", *sample_args], stdout=subprocess.PIPE
    ) as producer:
        parsed = subprocess.run(
            [*CLI, "report", "parse", "-"],
            stdin=producer.stdout,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert producer.wait(timeout=60) == 0
    assert parsed.returncode == 0, parsed.stderr.decode()
    assert parsed.stderr == b""
    report: dict[str, object] = json.loads(parsed.stdout)
    return report


@pytest.mark.parametrize("layout", ["xml", "json"])
@pytest.mark.parametrize("status", [None, "OK", "BUSY", "WRONG_NO"])
def test_sample_round_trips_through_parse(layout: str, status: str | None) -> None:
    args = ["--format", layout] + ([] if status is None else ["--status", status])
    report = sample_piped_into_parse(*args)
    recipients = report["faxRecipients"]
    assert isinstance(recipients, list)
    statuses = [recipient["status"] for recipient in recipients]
    assert statuses == (["OK", "BUSY"] if status is None else [status, status])


@pytest.mark.parametrize("layout", [ReportFormat.XML, ReportFormat.JSON])
def test_every_final_status_renders_a_valid_report(layout: ReportFormat) -> None:
    shipped = parse_report((_SAMPLES / f"report-full.{layout.value}").read_bytes(), layout)
    for status in _PUSH_STATUSES:
        body, _ = render_report(_with_status(shipped, status), layout)
        again = parse_report(body, layout)
        assert {r.status for r in again.faxRecipients} == {status}


@pytest.mark.parametrize("name", ["report-full.xml", "report-full.json"])
def test_the_shipped_sample_is_the_spec_sample(name: str) -> None:
    assert (_SAMPLES / name).read_bytes() == (SPEC_SAMPLES / name).read_bytes()


def test_a_status_that_no_push_carries_is_refused() -> None:
    result = subprocess.run(
        [*CLI, "report", "sample", "--status", "PENDING"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "not a final status code" in result.stderr
