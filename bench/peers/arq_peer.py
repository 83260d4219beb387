"""arq + Redis: ``python arq_peer.py N CONCURRENCY`` enqueues N jobs, then runs an arq worker in
burst mode (it exits when the queue is empty) with CONCURRENCY jobs at once and one aiohttp
session, results not kept."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import aiohttp
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from common import BODY, DONE_KEY, RECEIVER_URL, REDIS_URL, headers, report


async def deliver(ctx: dict[str, Any], job_id: str) -> None:
    async with ctx["session"].post(RECEIVER_URL, data=BODY, headers=headers(job_id)) as response:
        response.raise_for_status()
        await response.read()
    await ctx["redis"].incr(DONE_KEY)


async def startup(ctx: dict[str, Any]) -> None:
    ctx["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["session"].close()


async def main() -> None:
    jobs, concurrency = int(sys.argv[1]), int(sys.argv[2])
    settings = RedisSettings.from_dsn(REDIS_URL)
    pool = await create_pool(settings)
    await pool.flushdb()
    t0 = time.perf_counter()
    for i in range(jobs):
        await pool.enqueue_job("deliver", f"job_{i}", _job_id=f"job_{i}")
    enqueue = time.perf_counter() - t0
    worker = Worker(
        functions=[deliver],
        redis_settings=settings,
        burst=True,
        max_jobs=concurrency,
        keep_result=0,
        on_startup=startup,
        on_shutdown=shutdown,
        poll_delay=0.01,
        handle_signals=False,
    )
    t1 = time.perf_counter()
    await asyncio.wait_for(worker.async_run(), timeout=600)
    drain = time.perf_counter() - t1
    done = int(await pool.get(DONE_KEY) or 0)
    await worker.close()
    await pool.aclose()
    report("arq", done, enqueue, drain)


if __name__ == "__main__":
    asyncio.run(main())
