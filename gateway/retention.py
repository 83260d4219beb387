"""The housekeeping runners: retention pruning and match erasures, bounded per scheduler tick.

``run_pruning`` runs every ``PRUNE_PERIOD_SECONDS`` (once per tick across processes): payload
batches first, then history batches, at most ``PRUNE_MAX_BATCHES`` of each, then SQLite hands
free pages back. ``run_erasures`` runs every ``ERASURE_STEP_SECONDS`` and erases at most
``settings.erasure_rate_per_second × ERASURE_STEP_SECONDS`` events over all jobs, oldest first.
Both store their progress in the database, so a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import timedelta

from gateway.errors import ConflictError
from gateway.settings import Settings
from gateway.store import Store

log = logging.getLogger(__name__)

PRUNE_PERIOD_SECONDS = 30.0  # CONTRACT §1: at least once a minute
PRUNE_MAX_BATCHES = 20  # per kind per tick: 10,000 events at PRUNE_BATCH = 500
ERASURE_STEP_SECONDS = 1.0
VACUUM_EVERY_SECONDS = 120.0  # PostgreSQL with autovacuum off only


def cutoffs(store: Store, settings: Settings) -> tuple[timedelta, timedelta]:
    """(payload age, history age); history is never kept shorter than payloads."""
    payload = timedelta(days=settings.payload_retention_days)
    history = max(timedelta(days=settings.history_retention_days), payload)
    return payload, history


def prune_once(store: Store, settings: Settings, max_batches: int = PRUNE_MAX_BATCHES) -> int:
    """One tick of pruning (blocking; the scheduler runs it in a thread); returns rows touched."""
    payload_age, history_age = cutoffs(store, settings)
    touched = 0
    for verb, age in ((store.prune_payloads, payload_age), (store.prune_history, history_age)):
        for _ in range(max_batches):
            done = verb(store.clock() - age)
            touched += done
            if done == 0:
                break
    if touched:
        store.reclaim_space()
        log.info("pruned %d rows", touched, extra={"job": "retention"})
    return touched


class Pruner:
    """The scheduler's pruning job; on PostgreSQL with autovacuum off it also vacuums, at most
    every ``VACUUM_EVERY_SECONDS`` after a tick that pruned something."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._last_vacuum = 0.0

    def tick(self) -> int:
        touched = prune_once(self.store, self.settings)
        now = time.monotonic()
        due = touched and now - self._last_vacuum >= VACUUM_EVERY_SECONDS
        if due and self.store.vacuum_pruned_tables():
            self._last_vacuum = now
        return touched


def erasure_budget(settings: Settings) -> int:
    return max(1, math.floor(settings.erasure_rate_per_second * ERASURE_STEP_SECONDS))


async def run_erasures(store: Store, settings: Settings) -> None:
    """Advance pending and running erasures by at most one step's budget."""
    budget = erasure_budget(settings)
    for erasure_id in await asyncio.to_thread(store.active_erasures):
        while budget > 0:
            try:
                result = await asyncio.to_thread(store.run_erasure_chunk, erasure_id, budget)
            except ConflictError:
                break  # another process advanced it meanwhile
            budget -= max(result.erased, 1)  # scanning costs too: a step always ends
            if result.erased:
                log.info("erased %d events", result.erased, extra={"erasure_id": erasure_id})
            if result.done:
                break
        if budget <= 0:
            return
