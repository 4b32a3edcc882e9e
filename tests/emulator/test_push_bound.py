"""The bound that lets a small job skip the push size check (and the account read).

:func:`push_may_exceed` promises that the XML and JSON pushes of a job never exceed 25
times its request body plus 4 KB. Generated jobs built to make pushes large relative to
their requests (minimal recipients, characters that XML and JSON escape, many alternative
numbers and properties) must stay within it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from faxpush.core.push_body import render_push_body
from faxpush.core.targets import Account, PushFormat
from faxpush.emulator.config import SimulatorConfig
from faxpush.emulator.intake import push_may_exceed
from faxpush.emulator.plan import count_job_pages, new_job_id, plan_job
from faxpush.emulator.validation import parse_job_request

NOW = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
_NUMBERS = st.sampled_from(["123", "+12125550101", "+12125550102", "+4989123456", "0049 89 1"])
_TEXT = st.text(alphabet="<>&\"'\\é€\U0001f4e0a", max_size=6)
_RECIPIENTS = st.fixed_dictionaries(
    {"number": _NUMBERS},
    optional={
        "alternativeNumbers": st.lists(_NUMBERS, max_size=4),
        "properties": st.lists(st.fixed_dictionaries({"key": _TEXT, "value": _TEXT}), max_size=3),
    },
)


@settings(max_examples=60, deadline=None)
@given(
    recipients=st.lists(_RECIPIENTS, min_size=1, max_size=40),
    reference=_TEXT,
    push_format=st.sampled_from([PushFormat.XML, PushFormat.JSON]),
)
def test_a_push_stays_within_the_bound_of_its_request(
    recipients: list[dict[str, Any]], reference: str, push_format: PushFormat
) -> None:
    job = {
        "recipients": recipients,
        "renderingOptions": {"coverpageTemplate": "c"},
        "meta": {"customerReference": reference},
    }
    body = json.dumps(job, separators=(",", ":"), ensure_ascii=False).encode()
    request = parse_job_request(body, now=NOW)
    pages = count_job_pages(request)
    plan = plan_job(
        request, job_id=new_job_id(), now=NOW, pages=pages, sim=SimulatorConfig(), speed=1
    )

    account = Account("99999TE", push_format=push_format)
    push, _ = render_push_body(plan.report, account, log=logging.getLogger("test"))

    assert push_may_exceed(len(body), len(push) - 1)  # a limit this push exceeds is seen
