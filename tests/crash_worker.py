"""The production worker (build_worker: passthrough sandbox, task slots, sticky timeout) in a
process of its own, so tests/test_crash_replay.py can kill it with SIGKILL.

    python -m tests.crash_worker TEMPORAL_ADDRESS TASK_QUEUE DATABASE_URL DATA_DIR
"""

from __future__ import annotations

import asyncio
import sys

from settings import Settings
from store.db import make_engine, make_session_factory
from worker import build_worker, connect


async def main(address: str, queue: str, database_url: str, data_dir: str) -> None:
    settings = Settings.model_validate(
        {
            "temporal_address": address,
            "temporal_task_queue": queue,
            "database_url": database_url,
            "data_dir": data_dir,
        }
    )
    client = await connect(settings)
    engine = make_engine(database_url)
    worker = build_worker(client, make_session_factory(engine), settings)
    print("worker ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
