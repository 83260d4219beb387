"""APScheduler wiring only: periodic jobs that run once per tick across processes.

Each job's tick is ``floor(unix_time / period)``; a job body runs only for the process whose
``claim_tick`` insert wins, so several ``gateway serve``/``gateway worker`` processes against one
PostgreSQL poll person.run once per interval (like procrastinate's periodic tasks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.errors import StoreUnavailable
from gateway.store import Store

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    period_seconds: float
    run: Callable[[], Awaitable[None]]
    once_per_tick: bool = True  # False: every process runs it (e.g. its own heartbeat)


class Scheduler:
    def __init__(self, store: Store, owner: str, role: str) -> None:
        self.store = store
        self.owner = owner
        self.role = role
        self._aps = AsyncIOScheduler(timezone="UTC")
        self._jobs: list[PeriodicJob] = [
            PeriodicJob("heartbeat", HEARTBEAT_SECONDS, self._beat, once_per_tick=False)
        ]

    def add(self, job: PeriodicJob) -> None:
        self._jobs.append(job)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    def start(self) -> None:
        for job in self._jobs:
            self._aps.add_job(
                self._guarded(job),
                "interval",
                seconds=job.period_seconds,
                id=job.name,
                max_instances=1,
                coalesce=True,
                next_run_time=_soon(),
            )
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)

    def _guarded(self, job: PeriodicJob) -> Callable[[], Awaitable[None]]:
        async def tick() -> None:
            try:
                if job.once_per_tick:
                    number = int(time.time() // job.period_seconds)
                    won = await asyncio.to_thread(
                        self.store.claim_tick, job.name, number, self.owner
                    )
                    if not won:
                        return
                await job.run()
            except StoreUnavailable as exc:  # an outage: the next tick tries again
                log.warning("periodic job %s skipped: %s", job.name, exc.message)
            except Exception:  # a job failure must not stop the scheduler
                log.exception("periodic job %s failed", job.name)

        return tick

    async def _beat(self) -> None:
        await asyncio.to_thread(self.store.beat, self.owner, self.role)


def _soon() -> datetime:
    return datetime.now(UTC)
