"""``faxpush listen``, ``faxpush check-endpoint`` and ``faxpush openapi push`` in subprocesses."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

from faxpush.receiver.openapi import openapi_document
from tests.receiver.cli import listen, run
from tests.samples import sample

XML = {"Content-Type": "text/xml; charset=UTF-8"}


def test_listen_prints_each_push_and_keeps_it_across_restarts(tmp_path: Path) -> None:
    inbox = f"sqlite:///{tmp_path / 'inbox.db'}"
    options = [
        "--inbox",
        inbox,
        "--auth",
        "HTTP_BASIC",
        "--principal",
        "alice",
        "--credentials",
        "s3cret",
    ]
    with listen(tmp_path, *options) as listener:
        ok = requests.post(
            listener.url("/fax/status"),
            data=sample("report-full.xml"),
            headers=XML,
            auth=("alice", "s3cret"),
            timeout=10,
        )
        refused = requests.post(
            listener.url("/fax/status"),
            data=sample("report-full.xml"),
            headers=XML,
            auth=("alice", "wrong"),
            timeout=10,
        )
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert listener.exit_code == 0
    assert "Traceback" not in listener.stderr.read_text()
    printed = listener.output()
    lines = printed.splitlines()
    assert "200 stored" in lines[0]
    assert "FJ7QK2M9X40ABCDEFGH123" in lines[0]
    assert "HTTP_BASIC as alice" in lines[0]
    assert "POST /fax/status" in lines[0]
    assert lines[1].split() == ["+4930123456789", "OK"]
    assert lines[2].split() == ["+4989555000", "BUSY"]
    assert "401 refused" in lines[3]
    assert "credentials rejected" in lines[3]
    assert "s3cret" not in printed + listener.stderr.read_text()
    banner = listener.stderr.read_text()
    assert f"inbox:   {inbox} (0 pushes stored)" in banner

    with listen(tmp_path, *options, "--json", name="again", stop=signal.SIGTERM) as listener:
        again = requests.post(
            listener.url("/other"),
            data=sample("report-full.json"),
            headers={"Content-Type": "application/json"},
            auth=("alice", "s3cret"),
            timeout=10,
        )
        (receipt,) = listener.wait_for(1)
    assert again.json()["status"] == "duplicate"
    assert listener.exit_code == 0
    assert "Traceback" not in listener.stderr.read_text()
    assert listener.stderr.read_text().endswith("faxpush listen: stopped\n")
    assert "(1 push stored)" in listener.stderr.read_text()
    assert receipt["outcome"] == "duplicate"
    assert receipt["timesReceived"] == 2
    assert receipt["recipients"] == [
        {"number": "+4930123456789", "status": "OK"},
        {"number": "+4989555000", "status": "BUSY"},
    ]
    with sqlite3.connect(tmp_path / "inbox.db") as conn:
        assert conn.execute(
            "SELECT count(*), max(times_received) FROM inbox_entries"
        ).fetchone() == (1, 2)


def test_listen_digest_with_requests_and_path_restriction(tmp_path: Path) -> None:
    with listen(
        tmp_path,
        "--inbox",
        "memory://",
        "--auth",
        "HTTP_DIGEST",
        "--principal",
        "alice",
        "--credentials",
        "s3cret",
        "--path",
        "/hook",
        "--json",
    ) as listener:
        ok = requests.post(
            listener.url("/hook"),
            data=sample("report-minimal.xml"),
            headers=XML,
            auth=HTTPDigestAuth("alice", "s3cret"),
            timeout=10,
        )
        elsewhere = requests.post(
            listener.url("/other"),
            data=sample("report-minimal.xml"),
            headers=XML,
            auth=HTTPDigestAuth("alice", "s3cret"),
            timeout=10,
        )
        receipts = listener.wait_for(2)
    assert (ok.status_code, elsewhere.status_code) == (200, 404)
    assert receipts[-1]["auth"] == "HTTP_DIGEST as alice"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--auth", "HTTP_BASIC"], "needs --principal and --credentials"),
        (["--oauth2-issuer"], "--oauth2-issuer goes with --auth OAUTH2"),
        (["--auth", "OAUTH2", "--principal", "c", "--credentials", "s"], "OAUTH2 needs"),
        (["--path", "nope"], "must start with '/'"),
    ],
)
def test_listen_usage_errors(args: list[str], message: str) -> None:
    done = run("listen", "--port", "0", "--inbox", "memory://", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_listen_bad_inbox_is_one_line(tmp_path: Path) -> None:
    done = run("listen", "--port", "0", "--inbox", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert done.returncode == 2
    assert done.stderr.startswith("faxpush: the directory of the inbox database")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("method", ["NONE", "HTTP_BASIC", "HTTP_DIGEST", "OAUTH2"])
def test_check_endpoint_passes_against_listen(tmp_path: Path, method: str) -> None:
    auth = (
        []
        if method == "NONE"
        else ["--auth", method, "--principal", "client-1", "--credentials", "s3cret"]
    )
    extra = ["--oauth2-issuer"] if method == "OAUTH2" else []
    with listen(tmp_path, "--inbox", "memory://", *auth, *extra) as listener:
        token = ["--token-url", listener.token_url] if listener.token_url else []
        done = run("check_endpoint", listener.url("/fax/status"), *auth, *token)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["check", "expected", "answer", "time", "result"]
    rows = {line[:34].strip(): line for line in lines[1:-1]}
    assert "pass" in rows["XML full report"]
    assert " 200 " in rows["XML full report"]
    assert " 200 " in rows["duplicate of the XML full report"]
    assert " 413 " in rows["oversized body (2 MiB)"]
    assert " 400 " in rows["malformed XML body"]
    wrong = rows.get("wrong credentials") or rows.get("invalid bearer token") or ""
    assert ("skipped" in wrong) if method == "NONE" else (" 401 " in wrong and "pass" in wrong)
    assert lines[-1].startswith("8 checks: ")


def test_check_endpoint_fails_with_wrong_credentials(tmp_path: Path) -> None:
    with listen(
        tmp_path,
        "--inbox",
        "memory://",
        "--auth",
        "HTTP_BASIC",
        "--principal",
        "alice",
        "--credentials",
        "s3cret",
    ) as listener:
        done = run(
            "check_endpoint",
            listener.url(),
            "--auth",
            "HTTP_BASIC",
            "--principal",
            "alice",
            "--credentials",
            "not-it",
            "--json",
        )
    assert done.returncode == 1
    results = {r["check"]: r for r in json.loads(done.stdout)}
    assert results["XML full report"]["passed"] is False
    assert results["XML full report"]["status"] == 401
    assert results["wrong credentials"]["passed"] is True


def test_check_endpoint_usage_errors() -> None:
    done = run("check_endpoint", "ftp://example.org/")
    assert done.returncode == 2
    assert "must be an absolute http:// or https:// URL" in done.stderr
    done = run(
        "check_endpoint",
        "http://127.0.0.1:9/",
        "--auth",
        "OAUTH2",
        "--principal",
        "c",
        "--credentials",
        "s",
    )
    assert done.returncode == 2
    assert "--token-url" in done.stderr


def test_openapi_push_prints_the_document() -> None:
    done = run("openapi_cmd", "push")
    assert done.returncode == 0
    assert json.loads(done.stdout) == openapi_document()
    done = run("openapi_cmd", "push", "--server-url", "http://127.0.0.1:8080", "--path", "/hook")
    assert list(json.loads(done.stdout)["paths"]) == ["/hook"]
