"""The delivery worker: claim due deliveries, send them concurrently, record attempts in batches.

One loop per process. It claims at most as many deliveries as it has free send slots, sends each
under a per-destination concurrency cap and pace (rate limit), and hands finished attempts to a
flusher that writes them in one transaction per batch. While deliveries are in flight their leases
are renewed, so only a process that died lets its leases expire (and its deliveries be reclaimed).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.adapters import Outcome, ResponseInfo, Verdict
from gateway.delivery.client import DeliveryClient
from gateway.delivery.ratelimit import Pacer
from gateway.delivery.request import RenderFailure, body_text, prepare, redact
from gateway.errors import DeliveryError, StoreUnavailable
from gateway.models import DeliveryStatus, ErrorClass, Event
from gateway.redaction import strip_userinfo
from gateway.registry import get_connector
from gateway.retry import decide, parse_retry_after
from gateway.settings import Settings
from gateway.store import AttemptRecord, Claimed, Store

log = logging.getLogger(__name__)

FLUSH_MAX_RECORDS = 500
FLUSH_INTERVAL_SECONDS = 0.05
PACE_HORIZON_SECONDS = 2.0  # a delivery whose rate-limit slot is further away is handed back
STORE_RETRY_SECONDS = 1.0  # how long the worker waits out a database outage before trying again


@dataclass
class WorkerStats:
    claimed: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    released: int = 0
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
        self._free = settings.worker_concurrency
        self._per_destination: dict[str, asyncio.Semaphore] = {}
        self._pacer = Pacer()
        self._records: list[AttemptRecord] = []
        self._flush_now = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._views: dict[tuple[str, int], Any] = {}

    # -- the loops -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        flusher = asyncio.create_task(self._flush_loop(stop))
        renewer = asyncio.create_task(self._renew_loop(stop))
        try:
            while not stop.is_set():
                try:
                    progressed = await self.tick()
                except StoreUnavailable as exc:  # an outage: one line per wait, not a traceback
                    log.warning("%s; the worker waits %g s", exc.message, STORE_RETRY_SECONDS)
                    await _wait_any(stop, asyncio.Event(), timeout=STORE_RETRY_SECONDS)
                    continue
                except Exception:  # the top loop: log and go on (STYLE: only here)
                    log.exception("worker tick failed", extra={"owner": self.owner})
                    progressed = False
                if not progressed:
                    self.wakeup.clear()
                    await _wait_any(stop, self.wakeup, timeout=self.settings.worker_idle_seconds)
        finally:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            stop.set()
            await flusher
            renewer.cancel()
            await self._flush()

    async def tick(self) -> bool:
        """Claim and start one batch; True when anything was claimed."""
        free = min(self._free, self.settings.worker_batch_size)
        if free <= 0:
            await asyncio.sleep(0.005)
            return True
        claimed = await asyncio.to_thread(
            self.store.claim_due,
            owner=self.owner,
            limit=free,
            lease_seconds=self.settings.lease_seconds,
        )
        if not claimed:
            return False
        self.stats.claimed += len(claimed)
        events, destinations = await asyncio.to_thread(self._load, claimed)
        to_release: list[tuple[Claimed, datetime]] = []
        now_mono = time.monotonic()
        for item in claimed:
            dst = destinations.get(item.destination_id)
            event = events.get((item.event_id, item.tenant_id))
            if dst is None or event is None:
                log.error(
                    "claimed delivery without destination or event", extra={"delivery_id": item.id}
                )
                continue
            rate = self._rate(dst)
            at = self._pacer.slot(item.destination_id, rate, now_mono, PACE_HORIZON_SECONDS)
            if at is None:
                wait = self._pacer.next_free(item.destination_id, now_mono) - now_mono
                to_release.append((item, self.store.clock() + timedelta(seconds=wait)))
                continue
            self._free -= 1
            task = asyncio.create_task(self._deliver(item, event, dst, at))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if to_release:
            self.stats.released += len(to_release)
            await asyncio.to_thread(self.store.release, owner=self.owner, items=to_release)
        return True

    def _load(
        self, claimed: list[Claimed]
    ) -> tuple[dict[tuple[str, str], Event], dict[str, dict[str, Any]]]:
        rows = self.store.events_by_ids(sorted({(c.event_id, c.tenant_id) for c in claimed}))
        events = {
            key: Event(
                id=r["id"],
                tenant_id=r["tenant_id"],
                type=r["type"],
                data=r["data"],
                created_at=r["created_at"],
            )
            for key, r in rows.items()
        }
        return events, self.store.destinations_by_ids(sorted({c.destination_id for c in claimed}))

    def _rate(self, dst: dict[str, Any]) -> float | None:
        if dst["rate_limit_per_second"]:
            return float(dst["rate_limit_per_second"])
        option = (dst["options"] or {}).get("rateLimitPerSecond")
        if option:
            return float(option)
        return get_connector(dst["connector"]).default_rate_limit_per_second

    def _destination_slots(self, dst: dict[str, Any]) -> asyncio.Semaphore:
        sem = self._per_destination.get(dst["id"])
        if sem is None:
            cap = 1 if dst["ordered"] else self.settings.destination_concurrency
            sem = self._per_destination[dst["id"]] = asyncio.Semaphore(cap)
        return sem

    def _view(self, dst: dict[str, Any]) -> Any:
        key = (dst["id"], int(dst["version"]))
        view = self._views.get(key)
        if view is None:
            if len(self._views) > 10_000:
                self._views.clear()
            view = self._views[key] = self.store.destination_view(dst)
        return view

    # -- one attempt -------------------------------------------------------------------------
    async def _deliver(self, item: Claimed, event: Event, dst: dict[str, Any], at: float) -> None:
        try:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._destination_slots(dst):
                record = await self._attempt(item, event, dst)
        except Exception as exc:  # a bug: record it as a retryable attempt, never leave it held
            log.exception("delivery attempt crashed", extra={"delivery_id": item.id})
            outcome = Outcome(Verdict.RETRY, f"internal error: {exc!r}", ErrorClass.INTERNAL)
            now = self.store.clock()
            record = self._record(
                item, dst, item.attempt_count + 1, now, 0.0, dst["url"], {}, None, outcome
            )
        try:
            self._records.append(record)
            if len(self._records) >= FLUSH_MAX_RECORDS:
                self._flush_now.set()
        finally:
            self._free += 1

    async def _attempt(self, item: Claimed, event: Event, dst: dict[str, Any]) -> AttemptRecord:
        connector = get_connector(dst["connector"])
        view = self._view(dst)
        number = item.attempt_count + 1
        started = self.store.clock()
        t0 = time.perf_counter()
        response: ResponseInfo | None = None
        request_url, request_headers, request_body = strip_userinfo(view.url), {}, None
        try:
            prepared = prepare(
                connector,
                event,
                view,
                delivery_id=item.id,
                attempt_number=number,
                is_test=item.is_test,
                now=started,
                output_schema=dst["output_schema"],
            )
            request_url = strip_userinfo(prepared.url)
            request_headers = redact(prepared.headers, _secret_header_names(view, prepared.headers))
            request_body = body_text(prepared.body, view.credentials)
            response = await self.client.send(
                prepared.url, prepared.body, prepared.headers, view.timeout_seconds, prepared.method
            )
            outcome = connector.classify(response, view)
        except RenderFailure as exc:
            outcome = Outcome(Verdict.FAIL, str(exc), exc.error_class)
        except DeliveryError as exc:
            verdict = Verdict.FAIL if exc.error_class == ErrorClass.BLOCKED else Verdict.RETRY
            outcome = Outcome(verdict, exc.message, ErrorClass(exc.error_class))
        duration_ms = (time.perf_counter() - t0) * 1000
        self.stats.sent += 1
        record = self._record(
            item, dst, number, started, duration_ms, request_url, request_headers, response, outcome
        )
        record.request_body = request_body
        return record

    def _record(
        self,
        item: Claimed,
        dst: dict[str, Any],
        number: int,
        started: datetime,
        duration_ms: float,
        request_url: str,
        request_headers: dict[str, str],
        response: ResponseInfo | None,
        outcome: Outcome,
    ) -> AttemptRecord:
        now = self.store.clock()
        retry_after = None
        if response is not None and outcome.verdict is Verdict.RETRY:
            retry_after = parse_retry_after(_header(response, "retry-after"), now)
        raw_schedule = dst["retry_schedule"]
        schedule = None if raw_schedule is None else tuple(float(s) for s in raw_schedule)
        decision = decide(
            attempt_number=number,
            outcome=outcome,
            retry_after_seconds=retry_after,
            schedule=schedule,
            now=now,
            rng=self.rng,
        )
        if outcome.verdict is Verdict.SUCCESS:
            status = DeliveryStatus.SUCCEEDED
        elif decision.final:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        disable_reason = None
        if outcome.verdict is Verdict.DISABLE:
            disable_reason = outcome.reason
        elif decision.final and status is DeliveryStatus.FAILED and outcome.disable_when_exhausted:
            disable_reason = f"{outcome.reason} (after {number} attempt{'s' if number > 1 else ''})"
        self.stats.by_outcome[outcome.verdict.value] += 1
        if status is DeliveryStatus.SUCCEEDED:
            self.stats.succeeded += 1
        elif status is DeliveryStatus.FAILED:
            self.stats.failed += 1
        verdict = outcome.verdict
        if verdict is Verdict.RETRY and status is DeliveryStatus.FAILED:
            verdict = Verdict.FAIL  # retries exhausted: this attempt was the last
        return AttemptRecord(
            delivery_id=item.id,
            tenant_id=item.tenant_id,
            destination_id=item.destination_id,
            number=number,
            started_at=started,
            duration_ms=round(duration_ms, 3),
            request_url=request_url,
            request_headers=request_headers,
            outcome=verdict.value,
            status=status,
            next_attempt_at=decision.next_attempt_at,
            status_code=response.status_code if response else None,
            response_headers=dict(response.headers) if response else None,
            response_body=response.body.decode("utf-8", "replace") if response else None,
            error_class=outcome.error_class.value if outcome.error_class else None,
            error=outcome.reason or None,
            disable_reason=disable_reason,
            remove_destination=(
                outcome.remove_subscription
                and disable_reason is not None
                and bool(dst["subscription"])
            ),
        )

    # -- background duties -------------------------------------------------------------------
    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set() or self._inflight:
            await _wait_any(self._flush_now, stop, timeout=FLUSH_INTERVAL_SECONDS)
            self._flush_now.clear()
            await self._flush()

    async def _flush(self) -> None:
        if not self._records:
            return
        records, self._records = self._records, []
        window = self.settings.auto_disable_after_seconds
        try:
            await asyncio.to_thread(
                self.store.record_attempts,
                owner=self.owner,
                records=records,
                auto_disable_after=timedelta(seconds=window) if window > 0 else None,
            )
        except Exception:
            log.exception("recording %d attempts failed; retrying", len(records))
            self._records[:0] = records
            await asyncio.sleep(0.5)
            return
        if self.on_records is not None:
            self.on_records(records)

    async def _renew_loop(self, stop: asyncio.Event) -> None:
        period = self.settings.lease_seconds / 3
        while not stop.is_set():
            await _wait_any(stop, timeout=period)
            if self._inflight or self._records:
                try:
                    await asyncio.to_thread(
                        self.store.renew_leases,
                        owner=self.owner,
                        lease_seconds=self.settings.lease_seconds,
                    )
                except Exception:
                    log.exception("lease renewal failed")


def _header(response: ResponseInfo, name: str) -> str | None:
    for key, value in response.headers.items():
        if key.lower() == name:
            return value
    return None


def _secret_header_names(view: Any, sent: dict[str, str]) -> frozenset[str]:
    """Headers an attempt keeps as ``[redacted]``: the destination's own (their values are sealed
    at rest), unless the gateway overwrote one, and the connector's credential header."""
    names = {name.lower() for name, value in view.headers.items() if sent.get(name) == value}
    credential = view.credentials.get("headerName")
    if credential:
        names.add(str(credential).lower())
    return frozenset(names)


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
