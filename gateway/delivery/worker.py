"""The delivery worker: claim fairly, send concurrently, record attempts in batches, stop cleanly.

One loop per process. Each claim asks for no more than the worker can start now: its free send
slots, shared round-robin among due destinations, each destination capped by its adaptive limit
(``gateway.delivery.concurrency``) and its fair share, rate limits reserved in the store; a
prompt, healthy destination may also hold a bounded read-ahead (``gateway.delivery.lanes``),
started here as its sends finish, so its claims are off its send path. Finished
attempts go to a flusher that writes them in one transaction per batch; the store decides what
follows each (``gateway.outcome``) and the worker only carries it out.

Leases tell the truth: only deliveries really held here (in flight, read ahead, or recorded but
not yet written) are renewed. While the store fails the worker stops claiming, keeps its records,
and retries with a short backoff; on the way back it writes what it holds before claiming more.

On stop (SIGTERM): no more claims; sends in flight get ``GATEWAY_SHUTDOWN_SECONDS`` to finish,
the rest are cancelled and handed back, every record is written, then ``run`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gateway.adapters import Outcome, Verdict
from gateway.delivery.attempt import attempt, build_record
from gateway.delivery.client import DeliveryClient
from gateway.delivery.lanes import READ_AHEAD, Lanes
from gateway.errors import StoreUnavailable
from gateway.models import DeliveryStatus, DestinationStatus, ErrorClass
from gateway.outcome import Circuit, Policy
from gateway.registry import get_connector
from gateway.settings import Settings
from gateway.store import AttemptRecord, Claimed, Recorded, Store
from gateway.store.records import DestinationRecord

log = logging.getLogger(__name__)

FLUSH_MAX_RECORDS = 500
FLUSH_INTERVAL_SECONDS = 0.05
# Claim only what a rate limit lets start within this. Short, because a process that sends its
# slots late (a stalled loop, a slow claim) crowds the slots the others send on time: with two
# workers at 20/s a 1 s horizon let 24 requests into one second at the receiver; 0.3 s bounds
# the crowding to a few slots.
PACE_HORIZON_SECONDS = 0.3
CLAIM_COALESCE_SECONDS = 0.01  # after a send finishes, wait this long before claiming again
STORE_BACKOFF_MAX_SECONDS = 2.0  # while the store fails, retry at least this often
HOUSEKEEPING_SECONDS = 0.25  # expired leases and circuit probes are looked at this often


@dataclass
class WorkerStats:
    claimed: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    released: int = 0
    stale: int = 0  # records refused because the lease had passed to another worker
    by_outcome: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Worker:
    def __init__(
        self,
        store: Store,
        client: DeliveryClient,
        settings: Settings,
        *,
        owner: str,
        rng: random.Random | None = None,
        on_records: Callable[[list[AttemptRecord]], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.owner = owner
        self.rng = rng or random.Random()
        self.on_records = on_records
        self.stats = WorkerStats()
        self.wakeup = asyncio.Event()
        self.policy = Policy(
            auto_disable_after=(
                timedelta(seconds=settings.auto_disable_after_seconds)
                if settings.auto_disable_after_seconds > 0
                else None
            ),
            circuit_failures=settings.circuit_failures,
            probe_max_seconds=settings.circuit_max_probe_seconds,
        )
        self._held: dict[str, Claimed] = {}  # claimed here, not yet written or handed back
        self._tasks: dict[str, asyncio.Task[None]] = {}  # sends (or waits for their slot)
        self._sending: set[str] = set()  # past their slot: a request may be on the wire
        self._lanes = Lanes(
            settings.worker_concurrency, settings.destination_concurrency, settings.lease_seconds
        )
        self._stopping = False
        self._paced: dict[str, float] = {}  # each rate-limited destination's last slot here
        self._sent_at: dict[str, float] = {}  # … and its last actual start
        self._records: list[AttemptRecord] = []
        self._to_release: list[Claimed] = []
        self._flush_now = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._store_failures = 0
        self._last_housekeeping = -math.inf
        self._views: dict[tuple[str, int], Any] = {}

    # -- the loops -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        flusher = asyncio.create_task(self._flush_loop(stop))
        renewer = asyncio.create_task(self._renew_loop(stop))
        try:
            while not stop.is_set():
                try:
                    progressed = await self.tick()
                    self._store_failures = 0
                except StoreUnavailable as exc:  # an outage: one line per wait, not a traceback
                    self._store_failures += 1
                    wait = self._backoff()
                    log.warning("%s; the worker waits %.1f s", exc.message, wait)
                    await _wait_any(stop, timeout=wait)
                    continue
                except Exception:  # the top loop: log and go on (STYLE: only here)
                    self._store_failures += 1
                    log.exception("worker tick failed", extra={"owner": self.owner})
                    await _wait_any(stop, timeout=self._backoff())
                    continue
                if not progressed:  # nothing due, or only destinations with no room left
                    await _wait_any(
                        stop,
                        self.wakeup,
                        self._slot_freed,
                        timeout=self.settings.worker_idle_seconds,
                    )
                    if self._slot_freed.is_set() and not self.wakeup.is_set():
                        # let a few more finish: one claim for them (new work cuts it short)
                        await _wait_any(stop, self.wakeup, timeout=CLAIM_COALESCE_SECONDS)
        finally:
            await self._shutdown(flusher, renewer)

    async def tick(self) -> bool:
        """Claim and start one batch; True when claiming again at once may find more."""
        # Cleared before the claim, not after it: a wake-up (new work, a freed slot) that
        # arrives while the claim runs is seen by the wait after an empty claim, not lost.
        self.wakeup.clear()
        self._slot_freed.clear()
        lanes = self._lanes
        self._to_release.extend(lanes.expired())  # read ahead, waited too long: back, unsent
        if self._store_failures and (self._records or self._to_release):
            await self._flush(raise_errors=True)  # write what we hold before claiming more
        budget = self.settings.worker_concurrency * (1 + READ_AHEAD)
        free = min(budget - len(self._tasks) - lanes.queued_total, self.settings.worker_batch_size)
        if free <= 0:
            self._slot_freed.clear()
            await _wait_any(self._slot_freed, timeout=0.05)
            return True
        caps, blocked, default_cap = lanes.caps()
        claimed = await asyncio.to_thread(
            self.store.claim_due,
            owner=self.owner,
            limit=free,
            lease_seconds=self.settings.lease_seconds,
            caps=caps,
            default_cap=default_cap,
            blocked=blocked,
            rate_of=self._rate,
            horizon_seconds=PACE_HORIZON_SECONDS,
            housekeeping=self._housekeeping_due(),
        )
        if not claimed:
            return False
        self.stats.claimed += len(claimed)
        share = lanes.share()
        for item in claimed:
            if item.id in self._held:
                continue  # already ours (a lease renewed by the claim): never send it twice
            self._held[item.id] = item
            if item.slot_seconds or item.probe or not _circuit_closed(item):
                self._to_release.extend(lanes.read_ahead(item.destination_id, False))
            if lanes.busy[item.destination_id] < lanes.cap(item.destination_id, share):
                self._start(item)
            else:  # read ahead: starts here when one of its sends finishes
                lanes.push(item)
        # A claim that got less than it asked for met the caps or the end of what is due: wait
        # for a destination to have room again (or new work) rather than claim again at once.
        return len(claimed) >= free

    def _housekeeping_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_housekeeping < HOUSEKEEPING_SECONDS:
            return False
        self._last_housekeeping = now
        return True

    def _start_at(self, item: Claimed) -> float:
        """When (monotonic) to send: the slot reserved in the store, and never closer than the
        slot spacing to this process's previous send there (slots that are already past when
        the claim returns must not go out in one burst)."""
        now = time.monotonic()
        if item.send_at is None:
            return now
        at = max(now, now + (item.send_at - self.store.clock()).total_seconds())
        previous = self._paced.get(item.destination_id)
        if previous is not None:
            at = max(at, previous + item.slot_seconds)
        self._paced[item.destination_id] = at
        return at

    def _rate(self, dst: DestinationRecord) -> float | None:
        if dst.rate_limit_per_second:
            return float(dst.rate_limit_per_second)
        option = (dst.options or {}).get("rateLimitPerSecond")
        if option:
            return float(option)
        return get_connector(dst.connector).default_rate_limit_per_second

    def _view(self, dst: DestinationRecord) -> Any:
        key = (dst.id, int(dst.version))
        view = self._views.get(key)
        if view is None:
            if len(self._views) > 10_000:
                self._views.clear()
            view = self._views[key] = self.store.destination_view(dst)
        return view

    def _backoff(self) -> float:
        return float(min(STORE_BACKOFF_MAX_SECONDS, 0.1 * 2 ** min(self._store_failures, 5)))

    # -- one delivery ------------------------------------------------------------------------
    def _start(self, item: Claimed) -> None:
        self._lanes.busy[item.destination_id] += 1
        self._tasks[item.id] = asyncio.create_task(self._deliver(item, self._start_at(item)))

    async def _deliver(self, item: Claimed, start_at: float) -> None:
        lanes = self._lanes
        limit = lanes.limit(item.destination_id)
        try:
            delay = start_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._space(item)
            self._sending.add(item.id)
            t0 = time.monotonic()
            record = await self._attempt(item)
            done = time.monotonic()
            lanes.observe(item.destination_id, done - t0)
            limit.observe(
                done - t0,
                record.result.error_class is ErrorClass.TIMEOUT,
                len(self._tasks) >= self.settings.worker_concurrency * 3 // 4,
                done,
            )
        except asyncio.CancelledError:  # shutdown: hand it back unsent (or with no answer)
            self._to_release.append(item)
            raise
        except Exception as exc:  # a bug: record it as a retryable attempt, never leave it held
            log.exception("delivery attempt crashed", extra={"delivery_id": item.id})
            outcome = Outcome(Verdict.RETRY, f"internal error: {exc!r}", ErrorClass.INTERNAL)
            record = build_record(
                item, item.destination, self.store.clock(), 0.0, "", {}, None, outcome,
                clock=self.store.clock, rng=self.rng,
            )  # fmt: skip
        finally:
            self._tasks.pop(item.id, None)
            self._sending.discard(item.id)
            lanes.busy[item.destination_id] -= 1
            if not self._stopping and lanes.can_start(item.destination_id):
                following = lanes.pop(item.destination_id)
                if following is not None:
                    self._start(following)
            if lanes.claimable(item.destination_id):
                self._slot_freed.set()
        self.stats.sent += 1
        self._records.append(record)
        if len(self._records) >= FLUSH_MAX_RECORDS:
            self._flush_now.set()

    async def _space(self, item: Claimed) -> None:
        """Keep actual starts ``slot_seconds`` apart: sends that woke late together (a busy
        event loop) go one slot after another instead of in one burst."""
        if not item.slot_seconds:
            return
        while True:
            gap = self._sent_at.get(item.destination_id, -math.inf) + item.slot_seconds
            wait = gap - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self._sent_at[item.destination_id] = time.monotonic()

    async def _attempt(self, item: Claimed) -> AttemptRecord:
        dst, event = item.destination, item.event
        if dst is None or event is None:
            outcome = Outcome(Verdict.FAIL, "the event is no longer stored", ErrorClass.INTERNAL)
            now = self.store.clock()
            return build_record(
                item, dst, now, 0.0, "", {}, None, outcome, clock=self.store.clock, rng=self.rng
            )
        view = self._view(dst)
        return await attempt(
            self.client, item, event, dst, view, clock=self.store.clock, rng=self.rng
        )

    # -- background duties -------------------------------------------------------------------
    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _wait_any(self._flush_now, stop, timeout=FLUSH_INTERVAL_SECONDS)
            self._flush_now.clear()
            if await self._flush():
                continue
            await _wait_any(stop, timeout=self._backoff())

    async def _flush(self, *, raise_errors: bool = False) -> bool:
        """Write buffered records and hand back released deliveries; False when the store failed
        (nothing is dropped: it is all kept for the next try, and a retry never writes twice)."""
        records, self._records = self._records, []
        release, self._to_release = self._to_release, []
        released = False
        try:
            if release:
                now = self.store.clock()
                await asyncio.to_thread(
                    self.store.release, owner=self.owner, items=[(c, now) for c in release]
                )
                self.stats.released += len(release)
                for c in release:
                    self._held.pop(c.id, None)
                released = True
            if records:
                result = await asyncio.to_thread(
                    self.store.record_attempts,
                    owner=self.owner,
                    records=records,
                    policy=self.policy,
                )
                self._account(result.recorded, result.stale)
        except Exception:
            self._store_failures += 1
            if not released:
                self._to_release[:0] = release
            self._records[:0] = records
            if raise_errors:
                raise
            log.exception("writing %d attempts failed; will retry", len(records))
            return False
        if records and self.on_records is not None:
            self.on_records(records)
        return True

    def _account(self, recorded: list[Recorded], stale: list[AttemptRecord]) -> None:
        health = {}
        for x in recorded:
            self._held.pop(x.record.delivery_id, None)
            health[x.record.destination_id] = x.decision.health  # the last one counts
            self.stats.by_outcome[x.decision.attempt_outcome] += 1
            if x.decision.status is DeliveryStatus.SUCCEEDED:
                self.stats.succeeded += 1
            elif x.decision.status is DeliveryStatus.FAILED:
                self.stats.failed += 1
        for destination_id, h in health.items():  # read ahead only while clean and closed
            clean = h.circuit is Circuit.CLOSED and not h.consecutive_failures and not h.deleted
            clean = clean and h.status is DestinationStatus.ACTIVE
            clean = clean and destination_id not in self._paced
            self._to_release.extend(self._lanes.read_ahead(destination_id, clean))
        for r in stale:
            self._held.pop(r.delivery_id, None)
        if stale:
            self.stats.stale += len(stale)
            log.warning("%d attempts were no longer this worker's to record", len(stale))

    async def _renew_loop(self, stop: asyncio.Event) -> None:
        period = self.settings.lease_seconds / 3
        while not stop.is_set():
            await _wait_any(stop, timeout=period)
            await self._renew()

    async def _renew(self) -> None:
        if not self._held:
            return
        try:
            await asyncio.to_thread(
                self.store.renew_leases,
                owner=self.owner,
                delivery_ids=list(self._held),
                lease_seconds=self.settings.lease_seconds,
            )
        except Exception:
            log.exception("lease renewal failed")

    async def _shutdown(self, flusher: asyncio.Task[None], renewer: asyncio.Task[None]) -> None:
        """Stop within ``GATEWAY_SHUTDOWN_SECONDS``: sends may finish, the rest go back."""
        deadline = time.monotonic() + self.settings.shutdown_seconds
        self._stopping = True
        # Read ahead and never started (queued, or found too old to start): hand back.
        self._to_release.extend(self._lanes.take_all() + self._lanes.expired())
        waiting = [t for i, t in self._tasks.items() if i not in self._sending]
        for task in waiting:  # not started yet (waiting for a rate-limit slot): hand back now
            task.cancel()
        pending = list(self._tasks.values())
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic() - 1.0))
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=1.0)
        await flusher
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        while self._records or self._to_release:
            if await self._flush():
                continue
            if time.monotonic() >= deadline:
                log.error(
                    "shutting down with %d attempts unwritten (their deliveries are retried "
                    "when the lease runs out)",
                    len(self._records),
                )
                return
            await asyncio.sleep(min(0.5, max(0.05, deadline - time.monotonic())))


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _circuit_closed(item: Claimed) -> bool:
    return item.destination is None or item.destination.circuit == Circuit.CLOSED.value
