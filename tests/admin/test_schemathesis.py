"""schemathesis generates requests from the operator API's OpenAPI document and runs them
against a live server: every answer must match the document (status codes, bodies, Allow
headers), and requests that break it must be refused."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from .harness import running_admin, sqlite_settings

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("schemathesis", path=str(SCHEMATHESIS.parent)) is None,
    reason="schemathesis is not installed",
)
async def test_schemathesis_against_the_operator_api(tmp_path: Path) -> None:
    async with running_admin(sqlite_settings(tmp_path)) as admin:
        # positive_data_acceptance is left out on purpose: a report's validity (final
        # statuses, a usable target) and a cursor's are more than a JSON Schema can say, so
        # schema-valid requests are refused with 400 by design.
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            admin.url + "/openapi.json",
            "--header",
            f"Authorization: Bearer {admin.write_token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "5",
            "--generation-allow-x00",
            "false",
            "--no-color",
            "--request-timeout",
            "10",
            cwd=tmp_path,  # schemathesis keeps a cache directory in its working directory
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-4000:]
    assert " passed" in text
