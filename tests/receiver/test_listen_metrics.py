"""``faxpush listen`` answers GET /healthz, /readyz and /metrics beside its pushes, and counts
pushes accepted and refused by reason; a POST to those paths is still a push."""

from __future__ import annotations

from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.receiver.cli import listen
from tests.samples import sample

XML = {"Content-Type": "text/xml; charset=UTF-8"}
AUTH = ["--auth", "HTTP_BASIC", "--principal", "alice", "--credentials", "s3cret"]


def counts(text: str, name: str, label: str) -> dict[str, float]:
    return {
        sample.labels[label]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_listen_counts_pushes_by_outcome_and_refusal_reason(tmp_path: Path) -> None:
    inbox = f"sqlite:///{tmp_path / 'inbox.db'}"
    body = sample("report-full.xml")
    with listen(tmp_path, "--inbox", inbox, *AUTH) as listener:

        def post(
            path: str,
            data: bytes = body,
            headers: dict[str, str] = XML,
            auth: tuple[str, str] | None = ("alice", "s3cret"),
        ) -> int:
            answer = requests.post(
                listener.url(path), data=data, headers=headers, auth=auth, timeout=10
            )
            return answer.status_code

        assert post("/fax") == 200
        assert post("/fax") == 200  # the same report again: a duplicate
        assert post("/healthz") == 200  # a push, not the health route
        assert post("/fax", auth=("alice", "wrong")) == 401
        assert post("/fax", auth=None) == 401
        assert post("/fax", headers={"Content-Type": "image/png"}) == 415
        assert post("/fax", data=b"<no/>") == 400
        assert requests.put(listener.url("/fax"), timeout=10).status_code == 405
        health = requests.get(listener.url("/healthz"), timeout=10)
        ready = requests.get(listener.url("/readyz"), timeout=10)
        metrics = requests.get(listener.url("/metrics"), timeout=10)
    assert (health.status_code, ready.status_code, metrics.status_code) == (200, 200, 200)
    assert ready.json() == {"status": "ready"}
    accepted = counts(metrics.text, "faxpush_receiver_pushes_accepted_total", "outcome")
    assert accepted == {"stored": 1.0, "duplicate": 2.0}
    refused = counts(metrics.text, "faxpush_receiver_pushes_refused_total", "reason")
    assert refused == {
        "unauthorized": 2.0,
        "unsupported_media_type": 1.0,
        "bad_request": 1.0,
        "method_not_allowed": 1.0,
    }
    assert listener.exit_code == 0
