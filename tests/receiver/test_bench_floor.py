"""The floor app of bench/receive.py stores what it answers 200 for, over real HTTP.

The benchmark's claim that no receiver can beat the floor holds only if the floor does its
work: these tests keep it honest (durable rows, refused credentials, the model built).
"""

from __future__ import annotations

import importlib.util
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.receiver.serving import basic, serving

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "spec_samples"


def _floor_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "receive_floor", REPO / "bench" / "receive_floor.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _post(url: str, body: bytes, content_type: str, password: str, delivery_id: str) -> int:
    name, value = basic("bench", password)
    headers = {name: value, "content-type": content_type, "faxpush-delivery-id": delivery_id}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _rows(database: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT key, job_id, content_type FROM floor_entries").fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("validate", [True, False], ids=["floor", "store-floor"])
def test_floor_stores_each_push_it_accepts(tmp_path: Path, validate: bool) -> None:
    from pydantic_core import from_json

    fields = from_json((SAMPLES / "report-full.json").read_bytes()) if validate else None
    database = tmp_path / "floor.db"
    app = _floor_module().FloorApp(database, "bench", "secret", xml_fields=fields)
    with serving(app) as server:
        url = server.url("/fax/status")
        xml = (SAMPLES / "report-full.xml").read_bytes()
        json_body = (SAMPLES / "report-full.json").read_bytes()
        assert _post(url, xml, "text/xml; charset=UTF-8", "secret", "a-1") == 200
        assert _post(url, json_body, "application/json", "secret", "a-2") == 200
        assert _post(url, json_body, "application/json", "wrong", "a-3") == 401
    rows = sorted(_rows(database))
    job_id = "FJ7QK2M9X40ABCDEFGH123"
    assert rows == [
        ("delivery:a-1", job_id, "text/xml; charset=UTF-8"),
        ("delivery:a-2", job_id, "application/json"),
    ]


def test_validating_floor_refuses_an_invalid_report(tmp_path: Path) -> None:
    database = tmp_path / "floor.db"
    app = _floor_module().FloorApp(database, "bench", "secret", xml_fields={})
    with serving(app) as server:
        body = b'{"jobId": "J1", "faxRecipients": []}'  # at least one recipient is required
        status = _post(server.url("/"), body, "application/json", "secret", "b-1")
    assert status == 500  # the floor has no error handling: the model refused the report
    assert _rows(database) == []
