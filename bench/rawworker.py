"""``python -m bench.rawworker ADDRESS QUEUE``: the raw-SDK peer's worker, its own OS process
(so its CPU and memory are read like the product worker's): the minimal workflow that waits
for one signal and completes, with the SDK's default worker settings."""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from bench.temporal import WaitForSignal


async def main(address: str, queue: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=queue, workflows=[WaitForSignal]):
        print("raw worker polling", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except KeyboardInterrupt:
        pass
