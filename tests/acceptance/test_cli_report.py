"""``faxpush report render|parse`` driven through the real console script in subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faxpush._version import __version__

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "spec_samples"
SHARED_SAMPLES = REPO.parent / "shared" / "spec" / "samples"
SAMPLE_NAMES = [
    "job-request-full.json",
    "job-request-minimal.json",
    "report-full.json",
    "report-full.xml",
    "report-minimal.json",
    "report-minimal.xml",
    "report-rest.json",
]
_SCRIPT = Path(sys.executable).with_name("faxpush")
FAXPUSH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "faxpush.cli"]
ENV = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
MAX_BYTES = 1_048_576


def faxpush(
    *args: str | Path, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*FAXPUSH, *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env=ENV,
        cwd=cwd,
    )


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def assert_ok(result: subprocess.CompletedProcess[bytes]) -> bytes:
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    return result.stdout


def assert_bad_input(result: subprocess.CompletedProcess[bytes], prefix: str) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line starting with ``prefix``."""
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert result.stdout == b""
    assert "Traceback" not in err
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith(prefix), err
    return err.rstrip("\n")


# --- the in-repo copy of the golden vectors ----------------------------------------------------


def test_in_repo_samples_are_complete() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == SAMPLE_NAMES


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="the shared spec is not checked out")
def test_in_repo_samples_equal_the_spec_samples() -> None:
    for name in SAMPLE_NAMES:
        assert sample(name) == (SHARED_SAMPLES / name).read_bytes(), name


# --- render ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [
        ("report-full.xml", "json", "report-full.json"),
        ("report-full.json", "xml", "report-full.xml"),
        ("report-full.xml", "xml", "report-full.xml"),
        ("report-full.json", "json", "report-full.json"),
        ("report-minimal.xml", "json", "report-minimal.json"),
        ("report-minimal.json", "xml", "report-minimal.xml"),
    ],
)
def test_render_matches_golden_samples_byte_for_byte(source: str, fmt: str, expected: str) -> None:
    out = assert_ok(faxpush("report", "render", "--format", fmt, SAMPLES / source))
    assert out == sample(expected)


def test_render_defaults_to_xml_and_reads_stdin() -> None:
    out = assert_ok(faxpush("report", "render", "-", stdin=sample("report-full.json")))
    assert out == sample("report-full.xml")


def test_render_format_is_case_insensitive() -> None:
    out = assert_ok(faxpush("report", "render", "-f", "JSON", SAMPLES / "report-minimal.xml"))
    assert out == sample("report-minimal.json")


def _rest_subset_of_full_report() -> dict[str, Any]:
    """What the REST view carries of the full sample: no numIds, documents, mail, push, options
    other than the reference (spec §7)."""
    full = json.loads(sample("report-full.json"))
    recipients = [{k: v for k, v in r.items() if k != "numId"} for r in full["faxRecipients"]]
    reference = {k: full["options"][k] for k in ("customerDefinedId", "billingCode")}
    return {
        "jobId": full["jobId"],
        "faxRecipients": recipients,
        "options": reference,
        "pages": full["pages"],
    }


def test_render_accepts_the_rest_view() -> None:
    out = assert_ok(faxpush("report", "render", "-f", "json", SAMPLES / "report-rest.json"))
    assert json.loads(out) == _rest_subset_of_full_report()
    as_xml = assert_ok(faxpush("report", "render", "-", stdin=out))
    back = assert_ok(faxpush("report", "render", "-f", "json", "-", stdin=as_xml))
    assert back == out


# --- parse -------------------------------------------------------------------------------------


def test_parse_prints_the_normalized_report() -> None:
    out = assert_ok(faxpush("report", "parse", SAMPLES / "report-minimal.xml"))
    assert out.endswith(b"}\n")
    assert out.startswith(b'{\n  "jobId": "FJ00000000000000000042",\n')
    assert json.loads(out) == {
        "jobId": "FJ00000000000000000042",
        "reportMail": None,
        "httpStatusPush": None,
        "faxRecipients": [
            {
                "number": "+12015551000",
                "numId": "FN00000000000000000043",
                "alternativeNumbers": [],
                "properties": [],
                "status": "WRONG_NO",
                "reason": "WRONG_NO",
                "sentTS": None,
                "durationInSecs": 0,
                "sentToNumber": None,
                "remoteCsid": None,
            }
        ],
        "documents": [],
        "options": None,
        "pages": 1,
    }


def test_parse_gives_the_same_result_for_both_push_layouts() -> None:
    from_xml = assert_ok(faxpush("report", "parse", SAMPLES / "report-full.xml"))
    from_json = assert_ok(faxpush("report", "parse", SAMPLES / "report-full.json"))
    assert from_xml == from_json
    parsed = json.loads(from_xml)
    assert parsed["faxRecipients"][0]["properties"][0]["value"] == "Dr. Müller & Partner"
    assert "Müller".encode() in from_xml
    assert parsed["httpStatusPush"] == {
        "url": "https://hooks.example.org/fax/status",
        "authMethod": "HTTP_DIGEST",
    }


def test_parse_detects_the_rest_view_and_accepts_an_explicit_format() -> None:
    detected = assert_ok(faxpush("report", "parse", SAMPLES / "report-rest.json"))
    explicit = assert_ok(faxpush("report", "parse", "-f", "rest", SAMPLES / "report-rest.json"))
    assert detected == explicit
    assert json.loads(detected)["options"]["customerDefinedId"] == "INV-2024-05-0042"


def test_parse_from_stdin_names_stdin_in_errors() -> None:
    assert_ok(faxpush("report", "parse", "-", stdin=sample("report-full.xml")))
    err = assert_bad_input(faxpush("report", "parse", "-", stdin=b"{}"), "faxpush: <stdin>: ")
    assert "$.jobId" in err


def test_parse_with_the_wrong_explicit_format_fails_cleanly() -> None:
    err = assert_bad_input(
        faxpush("report", "parse", "--format", "json", SAMPLES / "report-full.xml"),
        f"faxpush: {SAMPLES / 'report-full.xml'}: line 1 column 1: not valid JSON",
    )
    assert err


# --- templates ---------------------------------------------------------------------------------

ACME = """\
<?xml version="1.0" encoding="UTF-8"?>
<acme job="{{ report.jobId | xml_escape }}">
{%- for r in report.faxRecipients %}
  <fax to="{{ r.number | xml_escape }}" status="{{ r.status }}"/>
{%- endfor %}
</acme>
"""


def test_render_with_a_template(tmp_path: Path) -> None:
    (tmp_path / "acme.xml.j2").write_text(ACME)
    out = assert_ok(
        faxpush(
            "report",
            "render",
            "--template",
            "acme.xml.j2",
            SAMPLES / "report-full.json",
            cwd=tmp_path,
        )
    )
    assert out == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<acme job="FJ7QK2M9X40ABCDEFGH123">\n'
        b'  <fax to="+4930123456789" status="OK"/>\n'
        b'  <fax to="+4989555000" status="BUSY"/>\n'
        b"</acme>\n"
    )


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "acme.xml.j2").write_text("<a>\n{{ report.jobId }}\n{{ foo }}\n</a>\n")
    result = faxpush(
        "report", "render", "-t", "acme.xml.j2", SAMPLES / "report-full.xml", cwd=tmp_path
    )
    err = assert_bad_input(result, "faxpush: ")
    assert err == "faxpush: template 'acme.xml.j2', line 3: 'foo' is undefined"


def test_template_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text('{"a": 1}\n{% if report.pages %}\n')
    result = faxpush("report", "render", "-t", "t.json", SAMPLES / "report-full.xml", cwd=tmp_path)
    assert_bad_input(result, "faxpush: template 't.json', line ")


def test_template_sandbox_holds_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "evil.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    result = faxpush(
        "report", "render", "-t", "evil.txt", SAMPLES / "report-full.xml", cwd=tmp_path
    )
    err = assert_bad_input(result, "faxpush: template 'evil.txt', line 1: ")
    assert "unsafe" in err


def test_template_output_is_checked_against_its_content_type(tmp_path: Path) -> None:
    (tmp_path / "broken.json.j2").write_text('{"job": {{ report.jobId }}}')
    args = ("report", "render", "-t", "broken.json.j2", SAMPLES / "report-full.xml")
    err = assert_bad_input(faxpush(*args, cwd=tmp_path), "faxpush: template 'broken.json.j2': ")
    assert "not valid JSON: line 1 column 9" in err
    out = assert_ok(faxpush(*args, "--no-check", cwd=tmp_path))
    assert out == b'{"job": FJ7QK2M9X40ABCDEFGH123}'


def test_template_content_type_must_be_known(tmp_path: Path) -> None:
    (tmp_path / "layout.j2").write_text("{{ report.jobId }}")
    args = ("report", "render", "-t", "layout.j2", SAMPLES / "report-full.xml")
    err = assert_bad_input(faxpush(*args, cwd=tmp_path), "faxpush: template 'layout.j2': ")
    assert "content type" in err
    out = assert_ok(faxpush(*args, "--content-type", "text/plain", cwd=tmp_path))
    assert out == b"FJ7QK2M9X40ABCDEFGH123"


def test_missing_template_file(tmp_path: Path) -> None:
    result = faxpush(
        "report", "render", "-t", "nope.xml", SAMPLES / "report-full.xml", cwd=tmp_path
    )
    assert_bad_input(result, "faxpush: nope.xml: file not found")


@pytest.mark.parametrize(
    "args",
    [
        ("--template", "t.xml", "--format", "json"),
        ("--content-type", "text/xml"),
    ],
)
def test_conflicting_options_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "t.xml").write_text("<a/>")
    result = faxpush("report", "render", *args, SAMPLES / "report-full.xml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"Traceback" not in result.stderr
    assert re.search(rb"--format|--content-type", result.stderr)


# --- bad input ---------------------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<faxJobReport><jobId>&b;</jobId><faxRecipient><number>1</number></faxRecipient></faxJobReport>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<faxJobReport><jobId>&x;</jobId><faxRecipient><number>1</number></faxRecipient></faxJobReport>
"""

BAD_INPUTS = {
    "malformed.xml": (
        b"<faxJobReport>\n<jobId>FJ1</jobId>\n<faxRecipient>\n<number>1</number>\n</faxRecip>\n",
        r"line 5\b.*malformed XML",
    ),
    "malformed.json": (b'{\n  "jobId": "FJ1",\n  "faxRecipients": [,]\n}\n', r"line 3 column"),
    "no-job-id.xml": (
        b"<faxJobReport>\n<faxRecipient><number>1</number></faxRecipient>\n</faxJobReport>",
        r"line 1\b.*jobId: required field is missing",
    ),
    "no-job-id.json": (b'{"faxRecipients": [{"number": "1"}]}', r"\$\.jobId: required field"),
    "no-number.xml": (
        b"<faxJobReport><jobId>FJ1</jobId>\n\n<faxRecipient><status>OK</status></faxRecipient>"
        b"</faxJobReport>",
        r"line 3\b.*number: required field is missing",
    ),
    "no-number.json": (
        b'{"jobId": "FJ1", "faxRecipients": [{"status": "OK"}]}',
        r"\$\.faxRecipients\[0\]\.number: required field is missing",
    ),
    "wrong-type.xml": (
        b"<faxJobReport><jobId>FJ1</jobId><faxRecipient><number>1</number>\n"
        b"<durationInSecs>half a minute</durationInSecs></faxRecipient></faxJobReport>",
        r"line 2\b.*durationInSecs",
    ),
    "wrong-type.json": (
        b'{"jobId": "FJ1", "faxRecipients": [{"number": "1", "durationInSecs": "31"}]}',
        r"\$\.faxRecipients\[0\]\.durationInSecs: expected an integer, got a string",
    ),
    "bomb.xml": (BOMB, r"DOCTYPE"),
    "external-entity.xml": (EXTERNAL_ENTITY, r"DOCTYPE"),
    "empty.xml": (b"  \n", r"the input is empty"),
    "not-a-report.txt": (b"\n\nhello", r"line 3: not a report"),
    "array.json": (b"[1, 2]", r"top level must be a JSON object"),
    "huge.xml": (b"<faxJobReport>" + b" " * MAX_BYTES, r"larger than the limit of 1048576 bytes"),
}


@pytest.mark.parametrize("command", ["parse", "render"])
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(tmp_path: Path, command: str, name: str) -> None:
    content, pattern = BAD_INPUTS[name]
    (tmp_path / name).write_bytes(content)

    err = assert_bad_input(faxpush("report", command, name, cwd=tmp_path), f"faxpush: {name}: ")

    assert re.search(pattern, err), err


def test_external_entity_content_never_appears(tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_bytes(EXTERNAL_ENTITY)
    result = faxpush("report", "parse", "x.xml", cwd=tmp_path)
    assert result.returncode == 2
    assert b"root:" not in result.stdout + result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = faxpush("report", "parse", "missing.xml", cwd=tmp_path)
    assert_bad_input(result, "faxpush: missing.xml: file not found; check the path")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    result = faxpush("report", "render", "reports", cwd=tmp_path)
    assert_bad_input(result, "faxpush: reports: is a directory; give a file")


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "report.xml").write_bytes(sample("report-full.xml"))
    result = faxpush("report", "parse", "report.xml/inner", cwd=tmp_path)
    assert_bad_input(result, "faxpush: report.xml/inner: a part of the path is not a directory")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file"
)
def test_unreadable_file(tmp_path: Path) -> None:
    target = tmp_path / "secret.xml"
    target.write_bytes(sample("report-full.xml"))
    target.chmod(0)
    try:
        result = faxpush("report", "parse", "secret.xml", cwd=tmp_path)
    finally:
        target.chmod(0o600)
    assert_bad_input(result, "faxpush: secret.xml: permission denied")


# --- help, version, entry points, demo ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("--help",), ("report", "--help"), ("report", "render", "--help"), ("report", "parse", "-h")],
)
def test_help(args: tuple[str, ...]) -> None:
    out = assert_ok(faxpush(*args)).decode()
    assert "Usage: faxpush" in out
    if len(args) == 3:
        assert "Examples" in out
        assert f"faxpush report {args[1]} " in out


def test_version() -> None:
    assert assert_ok(faxpush("--version")) == f"faxpush {__version__}\n".encode()


def test_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "faxpush.cli", "report", "render", "-f", "json", "-"],
        input=sample("report-minimal.xml"),
        capture_output=True,
        timeout=60,
        check=False,
        env=ENV,
    )
    assert assert_ok(result) == sample("report-minimal.json")


def test_unknown_command_is_a_usage_error() -> None:
    result = faxpush("report", "frobnicate")
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
