"""The shipped OpenAPI description: the golden samples validate against its schemas (JSON
directly, XML through the schemas' ``xml`` annotations), and schemathesis finds nothing wrong
with ``faxpush listen`` when it generates requests from it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from lxml import etree

from faxpush.receiver.openapi import openapi_bytes, openapi_document
from tests.samples import sample

DOCUMENT = openapi_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
REPO = Path(__file__).resolve().parents[2]


def validator() -> Any:
    root = {"$ref": "#/components/schemas/FaxJobReport", "components": DOCUMENT["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        schema = {
            **SCHEMAS[ref.rsplit("/", 1)[1]],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    return schema


def xml_instance(element: etree._Element, schema: dict[str, Any]) -> Any:
    """An XML element read the way the schema's ``xml`` annotations describe it."""
    schema = resolve(schema)
    kind = schema.get("type")
    if kind != "object":
        text = element.text or ""
        if kind == "integer":
            return int(text) if re.fullmatch(r"-?\d+", text) else text
        if kind == "boolean":
            return {"true": True, "false": False}.get(text, text)
        return text
    namespace = schema.get("xml", {}).get("namespace")
    instance: dict[str, Any] = {}
    children = list(element)  # a list keeps the element proxies (and their ids) alive
    used: set[int] = set()
    for name, sub in schema.get("properties", {}).items():
        sub = resolve(sub)
        is_array = sub.get("type") == "array"
        target = resolve(sub["items"]) if is_array else sub
        element_name = (
            (sub["items"].get("xml") or target.get("xml") or {}).get("name", name)
            if is_array
            else target.get("xml", {}).get("name", name)
        )
        ns = target.get("xml", {}).get("namespace", namespace)
        tag = f"{{{ns}}}{element_name}" if ns else element_name
        found = [child for child in children if child.tag == tag]
        used.update(id(child) for child in found)
        if is_array:
            if found:
                instance[name] = [xml_instance(child, sub["items"]) for child in found]
        elif found:
            instance[name] = xml_instance(found[0], sub)
    unknown = [child.tag for child in children if id(child) not in used]
    assert not unknown, f"elements the schema does not describe: {unknown}"
    return instance


@pytest.mark.parametrize("name", ["report-full.json", "report-minimal.json"])
def test_golden_json_samples_match_the_schema(name: str) -> None:
    validator().validate(json.loads(sample(name)))


@pytest.mark.parametrize("name", ["report-full.xml", "report-minimal.xml"])
def test_golden_xml_samples_match_the_schema(name: str) -> None:
    root = etree.fromstring(sample(name))
    schema = SCHEMAS["FaxJobReport"]
    assert root.tag == f"{{{schema['xml']['namespace']}}}{schema['xml']['name']}"
    instance = xml_instance(root, schema)
    validator().validate(instance)
    # XML and JSON samples describe the same report, element for property.
    assert instance == json.loads(sample(name.replace(".xml", ".json")))


def test_the_schema_refuses_what_is_not_a_report() -> None:
    document = json.loads(sample("report-minimal.json"))
    for broken in (
        {**document, "faxRecipients": []},
        {**document, "pages": -1},
        {k: v for k, v in document.items() if k != "jobId"},
        {**document, "faxRecipients": [{"status": "OK"}]},
    ):
        assert not validator().is_valid(broken)


def test_the_document_describes_the_push() -> None:
    operation = DOCUMENT["paths"]["/"]["post"]
    assert operation["summary"] == "Send a status push message to the URL of your choice"
    assert set(operation["requestBody"]["content"]) == {
        "text/xml",
        "application/xml",
        "application/json",
    }
    assert {"200", "400", "401", "413", "415", "500", "503"} <= set(operation["responses"])
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {(s["type"], s.get("scheme")) for s in schemes.values()} == {
        ("http", "basic"),
        ("http", "digest"),
        ("oauth2", None),
    }
    assert {} in operation["security"]  # NONE


def test_adapted_copies() -> None:
    document = json.loads(
        openapi_bytes(
            server_url="http://127.0.0.1:9/",
            path="/hook",
            token_url="http://127.0.0.1:9/oauth2/token",
        )
    )
    assert document["servers"] == [{"url": "http://127.0.0.1:9", "description": "This receiver."}]
    assert list(document["paths"]) == ["/hook"]
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "http://127.0.0.1:9/oauth2/token"
    assert openapi_document() == DOCUMENT  # copies, the shipped one is untouched


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "faxpush.cli.listen",
        "--port",
        "0",
        "--inbox",
        f"sqlite:///{tmp_path / 'inbox.db'}",
        "--auth",
        "HTTP_BASIC",
        "--principal",
        "alice",
        "--credentials",
        "s3cret",
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    # Files, not pipes: a pipe nobody reads fills up and stalls the server's printing.
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    try:
        yield wait_for_url(err, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_for_url(stderr: Path, process: subprocess.Popen[bytes], timeout: float = 15) -> str:
    """The base URL ``faxpush listen`` announces on stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", stderr.read_text())
        if match and "Press Ctrl+C" in stderr.read_text():
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"faxpush listen did not start: {stderr.read_text()}")


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None,
    reason="schemathesis is not installed",
)
def test_schemathesis_against_faxpush_listen(listening: str, tmp_path: Path) -> None:
    schemathesis = str(Path(sys.executable).parent / "schemathesis")
    # Two checks are left out on purpose: negative_data_rejection, because the receiver is a
    # tolerant reader (the description says what faxpush *sends*; any jobId, unknown elements
    # and the REST spellings are accepted too), and positive_data_acceptance, because JSON
    # Schema's "integer" includes 24.0, which the JSON codec refuses as not an integer.
    done = subprocess.run(
        [
            schemathesis,
            "run",
            f"{listening}/openapi.json",
            "--auth",
            "alice:s3cret",
            "--checks",
            "all",
            "--exclude-checks",
            "negative_data_rejection,positive_data_acceptance",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            "15",
            "--seed",
            "5",
            "--generation-allow-x00",
            "false",
            "--no-color",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache directory in its working directory
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
