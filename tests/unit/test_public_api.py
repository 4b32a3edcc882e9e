"""The public API: every exported name resolves, each is documented in ``docs/api.md``, and
``import faxpush`` loads none of the heavy parts until they are used."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import faxpush

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
HEAVY = ("aiohttp", "asyncpg", "lxml", "uvicorn", "starlette", "cryptography", "sqlite3")


def test_every_exported_name_resolves() -> None:
    missing = [name for name in faxpush.__all__ if getattr(faxpush, name, None) is None]
    assert missing == []
    assert sorted(dir(faxpush)) == sorted(faxpush.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'open_stores'"):
        _ = faxpush.open_stores  # type: ignore[attr-defined]


def test_every_exported_name_is_documented() -> None:
    documented = set(re.findall(r"`([A-Za-z_]\w*)`", API_DOC.read_text(encoding="utf-8")))
    assert sorted(set(faxpush.__all__) - documented) == []


def test_importing_faxpush_loads_no_heavy_dependency() -> None:
    code = (
        "import json, sys, faxpush\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


def test_the_runnable_examples_of_the_api_guide_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(API_DOC), "exec"), namespace)  # the guide is our own text
