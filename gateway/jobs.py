"""The periodic jobs a process runs: wired here so ``runtime.py`` stays small."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from gateway.replayer import REPLAY_STEP_SECONDS, run_replays
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
    return closers
