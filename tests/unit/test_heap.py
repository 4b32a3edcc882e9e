"""The collector tuning of long-running processes, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import gc, json
import faxpush.delivery.worker  # what a worker has imported by the time it settles
from faxpush.heap import settle_heap
before = gc.get_freeze_count(), gc.get_threshold()
settle_heap()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold(), "enabled": gc.isenabled()}))
"""


def test_settle_heap_freezes_the_start_up_heap_and_raises_the_young_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    state = json.loads(done.stdout)
    frozen_before, threshold_before = state["before"]
    assert frozen_before == 0
    assert state["frozen"] > 10_000  # the imported modules, aiohttp included
    assert state["threshold"][0] == 10_000 > threshold_before[0]
    assert state["threshold"][1:] == threshold_before[1:]
    assert state["enabled"]  # tuned, never switched off
