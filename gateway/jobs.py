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
