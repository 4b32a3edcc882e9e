"""A batch larger than INLINE_BODY_BYTES is parsed and rendered in a thread: it is stored
whole, in order, and a request arriving meanwhile is answered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from faxpush.admin.bodies import INLINE_BODY_BYTES

from .harness import json_report, running_admin, sqlite_settings


async def test_large_batch_off_the_loop(tmp_path: Path) -> None:
    async with running_admin(sqlite_settings(tmp_path)) as admin:
        items = [json.loads(json_report(f"big-{i}")) for i in range(400)]
        body = json.dumps({"items": items}).encode()
        assert len(body) > INLINE_BODY_BYTES
        batch = admin.call(
            "POST", "/api/v1/pushes/batch", body=body, content_type="application/json"
        )
        beside = admin.call("GET", "/api/v1/receivers", token=admin.read_token)
        (status, answer, _), (other, _, _) = await asyncio.gather(batch, beside)
        assert status == 202, answer
        assert [p["jobId"] for p in answer["pushes"]] == [f"big-{i}" for i in range(400)]
        assert other == 200
        counts = await admin.store.count_by_state()
        assert sum(counts.values()) == 400
