"""The periodic jobs a process runs: wired here so ``runtime.py`` stays small."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from gateway.replayer import REPLAY_STEP_SECONDS, run_replays
from gateway.retention import ERASURE_STEP_SECONDS, PRUNE_PERIOD_SECONDS, Pruner, run_erasures
from gateway.scheduler import PeriodicJob, Scheduler
from gateway.settings import Settings
from gateway.store import Store
from gateway.upstream.poller import Poller


def install_jobs(
    scheduler: Scheduler, store: Store, settings: Settings, wake_worker: Callable[[], None]
) -> list[Callable[[], Awaitable[None]]]:
    """Add the person.run poller (when PERSON_API_* are set) and the bulk-replay runner;
    returns what must be closed when the process stops."""
    closers: list[Callable[[], Awaitable[None]]] = []
    if settings.person_api_base_url and settings.person_api_key:
        http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        poller = Poller(store, settings, http)
        poller.on_events.append(wake_worker)
        closers.append(http.aclose)

        async def poll() -> None:
            await poller.poll_all()

        scheduler.add(PeriodicJob("poll-person-run", settings.poll_interval_seconds, poll))

    async def replay_step() -> None:
        await run_replays(store, settings, wake_worker)

    scheduler.add(PeriodicJob("replays", REPLAY_STEP_SECONDS, replay_step))
    install_housekeeping(scheduler, store, settings, wake_worker)
    return closers


def install_housekeeping(
    scheduler: Scheduler, store: Store, settings: Settings, wake_worker: Callable[[], None]
) -> None:
    """Retention pruning, match erasures and the failing-destination scan (issue #12)."""
    pruner = Pruner(store, settings)

    async def prune() -> None:
        await asyncio.to_thread(pruner.tick)

    async def erase() -> None:
        await run_erasures(store, settings)

    window = timedelta(seconds=settings.auto_disable_after_seconds)

    async def scan_failing() -> None:
        if await asyncio.to_thread(store.scan_failing, window=window):
            wake_worker()

    scheduler.add(PeriodicJob("retention", PRUNE_PERIOD_SECONDS, prune))
    scheduler.add(PeriodicJob("erasures", ERASURE_STEP_SECONDS, erase))
    # 1/20 of the window between scans (10 s at most), so 50 % and 90 % are seen on time.
    period = min(10.0, max(0.5, window.total_seconds() / 20))
    scheduler.add(PeriodicJob("failing-destinations", period, scan_failing))
