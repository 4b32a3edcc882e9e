"""Acceptance: the vendor's official Python SDK (``retarus-fax``) against the emulator.

The SDK picks its base URL from a region; ``Region.Custom`` exists but the SDK's facade
(``FaxClient``) only knows the vendor's hosts, so the test builds the SDK's own
``AsyncClient`` with a custom-region URL list, exactly as ``FaxClient`` does with its
built-in one. Nothing in the SDK is patched. Its models use pydantic v1 idioms that warn
under pydantic 2, hence the filter.
"""

from __future__ import annotations

import base64
import importlib
import os
from typing import Any

import pytest

from .harness import Emulator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def sdk(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    if os.environ.get("CI") == "true":  # `make test` installs the SDK; CI must not skip it
        retarus_fax = importlib.import_module("retarus.fax._async")
    else:
        retarus_fax = pytest.importorskip(
            "retarus.fax._async", reason="retarus-fax is not installed (make venv installs it)"
        )
    from retarus.commons.config import Configuration  # type: ignore[import-untyped]  # untyped SDK
    from retarus.commons.region import Region, RegionUri  # type: ignore[import-untyped]

    for name in ("auth", "customer_number", "region"):
        monkeypatch.setattr(Configuration, name, getattr(Configuration, name))
    Configuration.set_auth(emulator.login, emulator.password)
    Configuration.set_region(Region.Custom)
    Configuration.customer_number = emulator.customer
    uris = [RegionUri(region=Region.Custom, ha_uri=emulator.info.url, urls=[emulator.info.url])]
    return retarus_fax.AsyncClient(uris)


async def test_the_vendor_sdk_sends_a_job_and_reads_its_report(
    emulator: Emulator, sdk: Any
) -> None:
    from retarus.fax.model import Document, Job, SendRecipient  # type: ignore[import-untyped]

    job = Job(
        recipients=[SendRecipient(number="+12015551000")],
        documents=[
            Document(
                name="sdk-test.txt",
                data=base64.b64encode(b"Sent by the vendor SDK\n").decode("ascii"),
                charset=None,
            )
        ],
        renderingOptions=None,  # the SDK's models take their camelCase aliases
    )

    answer = await sdk.send_fax_job(job)
    job_id = answer["jobId"]
    await emulator.finished(job_id)
    report = await sdk.get_fax_report(job_id)

    assert report["jobId"] == job_id
    assert report["pages"] == 1
    (recipient,) = report["recipientStatus"]
    assert (recipient["number"], recipient["status"]) == ("+12015551000", "OK")
    listed = await sdk.get_fax_reports()
    assert [entry["jobId"] for entry in listed["reports"]] == [job_id]
    assert await sdk.delete_fax_report(job_id) == {"jobId": job_id, "deleted": True}
    assert await sdk.get_fax_report(job_id) is False  # the SDK's answer for 404
    assert await sdk.delete_all_fax_reports() == {"reports": []}
