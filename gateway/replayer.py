"""The bulk-replay runner: one bounded, rate-capped step over the stored replay jobs.

The scheduler calls ``run_replays`` every ``REPLAY_STEP_SECONDS`` (once per tick across
processes). A step creates at most ``settings.replay_rate_per_second × REPLAY_STEP_SECONDS``
deliveries over all jobs, oldest job first, so a replay of 100,000 deliveries trickles into the
queue beside live traffic instead of burying it. Progress is stored per chunk (see
``gateway/store/replays.py``), so a restart resumes where the last committed chunk ended.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from gateway.errors import ConflictError
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.replays import REPLAY_CHUNK

log = logging.getLogger(__name__)

REPLAY_STEP_SECONDS = 1.0  # the scheduler period the rate cap is spread over


def step_budget(settings: Settings) -> int:
    """Deliveries one step may create (at least one, so a tiny rate still progresses)."""
    return max(1, math.floor(settings.replay_rate_per_second * REPLAY_STEP_SECONDS))


async def run_replays(store: Store, settings: Settings, wake: Callable[[], None]) -> None:
    """Advance pending and running replay jobs by at most one step's budget.

    A database failure leaves the job as it was (the next step retries it); a job whose stored
    filter cannot be read is marked ``failed`` with the reason.
    """
    budget = step_budget(settings)
    for replay_id in await asyncio.to_thread(store.active_replays):
        while budget > 0:
            limit = min(budget, REPLAY_CHUNK)
            try:
                created = await asyncio.to_thread(store.run_replay_chunk, replay_id, limit)
            except ConflictError:
                break  # another process advanced this job meanwhile
            except (KeyError, TypeError, ValueError) as exc:
                log.error(
                    "replay %s has an unreadable filter: %r",
                    replay_id,
                    exc,
                    extra={"replay_id": replay_id},
                )
                await asyncio.to_thread(store.fail_replay, replay_id, f"unreadable filter: {exc!r}")
                break
            budget -= created
            if created:
                wake()
                log.info("replay chunk of %d", created, extra={"replay_id": replay_id})
            if created < limit:
                break  # this job is complete (or was cancelled): on to the next
        if budget <= 0:
            return
