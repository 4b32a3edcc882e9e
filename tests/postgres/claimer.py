"""A claiming process for the multi-process tests: connects, prints ``ready``, waits for a
line on stdin (so that all processes start claiming together), claims until nothing is
left, and prints the delivery ids it took as one JSON list.

    python -m tests.postgres.claimer URL WORKER_NAME TASKS BATCH
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.postgres import PostgresStore
from tests.contract.builders import SOON

MAX_ROUNDS = 1000


async def claim_until_empty(url: str, name: str, tasks: int, batch: int) -> list[str]:
    store = await PostgresStore.open(url, SecretCipher([generate_key()]), max_connections=tasks)
    taken: list[str] = []
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.readline)

    async def loop(task: int) -> None:
        for _ in range(MAX_ROUNDS):
            claims = await store.claim(
                worker_id=f"{name}.{task}", limit=batch, lease=timedelta(hours=1), now=SOON
            )
            if not claims:
                return
            taken.extend(c.push.delivery_id for c in claims)

    try:
        await asyncio.gather(*(loop(task) for task in range(tasks)))
    finally:
        await store.close()
    return taken


def main() -> None:
    url, name, tasks, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    taken = asyncio.run(claim_until_empty(url, name, tasks, batch))
    sys.stdout.write(json.dumps(taken) + "\n")


if __name__ == "__main__":
    main()
