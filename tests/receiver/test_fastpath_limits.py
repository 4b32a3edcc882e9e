"""The canonical XML grammar stays linear on hostile input (no catastrophic backtracking)."""

from __future__ import annotations

import time

import pytest

from faxpush.receiver.fastpath import fast_xml
from tests.samples import sample

_FULL = sample("report-full.xml").decode()
_HEAD, _, _REST = _FULL.partition("<faxRecipient>")
_RECIPIENT = "<faxRecipient>" + _REST.partition("</faxRecipient>")[0] + "</faxRecipient>\n"

HOSTILE = {
    "recipients then garbage": _HEAD + _RECIPIENT * 400 + "<bogus/></faxJobReport>",
    "unterminated text": _HEAD.split("<jobId>")[0] + "<jobId>" + "a" * 1_000_000,
    "whitespace": _HEAD + " \t\n" * 300_000 + "x",
    "alternative numbers": _HEAD
    + "<faxRecipient><number>1</number>"
    + "<alternativeNumber>1</alternativeNumber>\n" * 20_000
    + "<x/>",
    "properties": _HEAD
    + "<faxRecipient><number>1</number>"
    + "<property><key>a</key><value>b</value></property>" * 20_000
    + "<x/>",
    "references": _HEAD.replace("<jobId>", "<jobId>" + "&amp;" * 200_000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_of_a_megabyte_are_declined_quickly(name: str) -> None:
    body = HOSTILE[name].encode()
    started = time.perf_counter()
    assert fast_xml(body) is None
    # Linear matching takes 10-40 ms here; backtracking would take minutes. The bound only
    # separates the two, it is not a performance target.
    assert time.perf_counter() - started < 2.0
