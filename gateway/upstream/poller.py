"""The person.run poller: completed tasks -> one ``task.completed`` event each (CONTRACT §5).

Per tenant it keeps a cursor in the store (``updatedAfter``, as person.run formats it). One poll
pages through ``GET /tasks?status=completed&updatedAfter=<cursor>`` with the cursor held fixed
(so a tie at a page boundary cannot be skipped), fetches each task's results, turns and scores,
and ingests events in chunks. Event ids derive from the task id, so re-reading a task after a
crash stores nothing twice; the cursor only ever advances past timestamps whose tasks are all
stored, so a restart skips nothing. Failures back off exponentially (``Retry-After`` on 429) and
are reported by ``upstream_health`` (the ``/health`` ``upstream`` check).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.errors import UpstreamError, UpstreamThrottled
from gateway.models import iso
from gateway.settings import Settings
from gateway.store import EventIn, Store
from gateway.store.records import CursorRecord
from gateway.upstream.client import PersonRunClient, Task, format_cursor
from gateway.upstream.mapping import task_event_data, task_event_id

log = logging.getLogger(__name__)

PAGE_SIZE = 100
FETCH_CONCURRENCY = 8
CHUNK = 50  # tasks ingested per transaction
MAX_BACKOFF_SECONDS = 600.0
MAX_PAGES_PER_POLL = 200  # bounds one poll; the next tick continues from the cursor


@dataclass
class PollReport:
    tenant_id: str
    seen: int = 0
    created: int = 0
    skipped: bool = False


def safe_cursor(tasks: list[Task], done: int, previous: str | None) -> str | None:
    """The furthest cursor such that every task at or before it is among ``tasks[:done]``."""
    if done == 0:
        return previous
    last = tasks[done - 1].updated_at
    if done < len(tasks) and tasks[done].updated_at == last:
        earlier = [t.updated_at for t in tasks[:done] if t.updated_at < last]
        return format_cursor(max(earlier)) if earlier else previous
    return format_cursor(last)


class Poller:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        http: httpx.AsyncClient,
        rng: random.Random | None = None,
    ) -> None:
        assert settings.person_api_base_url and settings.person_api_key
        self.store = store
        self.settings = settings
        self.base_url = settings.person_api_base_url.rstrip("/")
        self.client = PersonRunClient(http, base_url=self.base_url, api_key=settings.person_api_key)
        self.rng = rng or random.Random()
        self.on_events: list[Any] = []  # callbacks after new events (wake the worker)

    async def tenants(self) -> list[str]:
        configured = self.settings.tenant_ids()
        if configured:
            return configured
        rows, _ = await asyncio.to_thread(
            self.store.list_destinations, tenant_id=None, page=1, page_size=100
        )
        return sorted({r.tenant_id for r in rows})

    async def poll_all(self) -> list[PollReport]:
        return [await self.poll_tenant(t) for t in await self.tenants()]

    async def poll_tenant(self, tenant_id: str) -> PollReport:
        report = PollReport(tenant_id)
        cursor = await asyncio.to_thread(self.store.get_cursor, tenant_id)
        now = self.store.clock()
        if cursor is not None and cursor.backoff_until and cursor.backoff_until > now:
            report.skipped = True
            return report
        position = cursor.updated_after if cursor is not None else None
        try:
            tasks = await self._list(tenant_id, position)
            report.seen = len(tasks)
            for start in range(0, len(tasks), CHUNK):
                chunk = tasks[start : start + CHUNK]
                report.created += await self._ingest(tenant_id, chunk)
                position = safe_cursor(tasks, start + len(chunk), position)
                await asyncio.to_thread(self.store.save_cursor, tenant_id, updated_after=position)
        except UpstreamError as exc:
            await self._failed(tenant_id, cursor, exc)
            return report
        await asyncio.to_thread(
            self.store.save_cursor,
            tenant_id,
            updated_after=position,
            last_success_at=self.store.clock(),
            failures=0,
            backoff_until=None,
        )
        if report.created:
            for callback in self.on_events:
                callback()
            log.info(
                "person.run poll: %d new task.completed events",
                report.created,
                extra={"tenant_id": tenant_id},
            )
        return report

    async def _list(self, tenant_id: str, position: str | None) -> list[Task]:
        tasks: dict[str, Task] = {}
        for page in range(1, MAX_PAGES_PER_POLL + 1):
            result = await self.client.list_completed_tasks(
                tenant_id, updated_after=position, page=page, page_size=PAGE_SIZE
            )
            for task in result.items:
                if task.status == "completed":
                    tasks[task.id] = task
            if len(result.items) < PAGE_SIZE:
                break
        return sorted(tasks.values(), key=lambda t: (t.updated_at, t.id))

    async def _ingest(self, tenant_id: str, tasks: list[Task]) -> int:
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def build(task: Task) -> EventIn:
            async with limit:
                results, turns, scores = await asyncio.gather(
                    self.client.get_results(task.id),
                    self.client.get_turns(task.id),
                    self.client.get_scores(task.id),
                )
            data = task_event_data(task, results, turns, scores, base_url=self.base_url)
            return EventIn(
                id=task_event_id(tenant_id, task.id),
                tenant_id=tenant_id,
                type="task.completed",
                data=data,
                origin="poller",
            )

        events = await asyncio.gather(*(build(t) for t in tasks))
        results = await asyncio.to_thread(self.store.ingest_events, list(events))
        return sum(1 for r in results if r.status == "created")

    async def _failed(
        self, tenant_id: str, cursor: CursorRecord | None, exc: UpstreamError
    ) -> None:
        failures = (cursor.failures if cursor is not None else 0) + 1
        if isinstance(exc, UpstreamThrottled):
            wait = exc.retry_after
        else:
            wait = min(MAX_BACKOFF_SECONDS, 2.0 ** min(failures, 10)) * self.rng.uniform(0.8, 1.2)
        now = self.store.clock()
        log.warning(
            "person.run poll failed for tenant %s (%s); next try in %.0f s",
            tenant_id,
            exc.message,
            wait,
            extra={"tenant_id": tenant_id},
        )
        await asyncio.to_thread(
            self.store.save_cursor,
            tenant_id,
            last_error=exc.message,
            last_error_at=now,
            failures=failures,
            backoff_until=now + timedelta(seconds=wait),
        )


def upstream_health(store: Store, settings: Settings) -> dict[str, Any]:
    """The ``upstream`` check: disabled, ok, or failing with the last error."""
    if not (settings.person_api_base_url and settings.person_api_key):
        return {"status": "disabled", "reason": "PERSON_API_BASE_URL / PERSON_API_KEY not set"}
    cursors = store.all_cursors()
    failing = [
        c
        for c in cursors
        if c.last_error_at and (c.last_success_at is None or c.last_error_at > c.last_success_at)
    ]
    last_ok = max((c.last_success_at for c in cursors if c.last_success_at), default=None)
    body: dict[str, Any] = {
        "status": "failing" if failing else ("ok" if last_ok else "starting"),
        "baseUrl": settings.person_api_base_url,
        "lastSuccessAt": _iso(last_ok),
    }
    if failing:
        worst = max(failing, key=lambda c: c.last_error_at or datetime.min.replace(tzinfo=UTC))
        body.update(
            lastError=worst.last_error,
            lastErrorAt=_iso(worst.last_error_at),
            failures=worst.failures,
            tenantId=worst.tenant_id,
        )
    return body


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso(value)
