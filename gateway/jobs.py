"""The periodic jobs a process runs: wired here so ``app.py`` stays small."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from gateway.scheduler import PeriodicJob

if TYPE_CHECKING:
    from gateway.app import Runtime


async def install_jobs(runtime: Runtime) -> None:
    """Add the person.run poller (when PERSON_API_* are set) and the bulk-replay runner."""
    if runtime.scheduler is None:
        return
    settings = runtime.settings
    if settings.person_api_base_url and settings.person_api_key:
        from gateway.upstream.poller import Poller

        http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        poller = Poller(runtime.store, settings, http)
        poller.on_events.append(runtime.wake_worker)
        runtime.extras.setdefault("closers", []).append(http.aclose)

        async def poll() -> None:
            await poller.poll_all()

        runtime.scheduler.add(PeriodicJob("poll-person-run", settings.poll_interval_seconds, poll))

    # -- bulk replays (gateway/replayer.py): one rate-capped step per tick ---------------------
    from gateway.replayer import REPLAY_STEP_SECONDS, run_replays

    async def replay_step() -> None:
        await run_replays(runtime.store, settings, runtime.wake_worker)

    runtime.scheduler.add(PeriodicJob("replays", REPLAY_STEP_SECONDS, replay_step))
    install_housekeeping(runtime)


def install_housekeeping(runtime: Runtime) -> None:
    """Retention pruning, match erasures and the failing-destination scan (issue #12)."""
    import asyncio
    from datetime import timedelta

    from gateway.retention import (
        ERASURE_STEP_SECONDS,
        PRUNE_PERIOD_SECONDS,
        Pruner,
        run_erasures,
    )

    assert runtime.scheduler is not None
    settings, store = runtime.settings, runtime.store

    pruner = Pruner(store, settings)

    async def prune() -> None:
        await asyncio.to_thread(pruner.tick)

    async def erase() -> None:
        await run_erasures(store, settings)

    window = timedelta(seconds=settings.auto_disable_after_seconds)

    async def scan_failing() -> None:
        if await asyncio.to_thread(store.scan_failing, window=window):
            runtime.wake_worker()

    runtime.scheduler.add(PeriodicJob("retention", PRUNE_PERIOD_SECONDS, prune))
    runtime.scheduler.add(PeriodicJob("erasures", ERASURE_STEP_SECONDS, erase))
    # 1/20 of the window between scans (10 s at most), so 50 % and 90 % are seen on time.
    period = min(10.0, max(0.5, window.total_seconds() / 20))
    runtime.scheduler.add(PeriodicJob("failing-destinations", period, scan_failing))
