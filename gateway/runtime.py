"""One process's background parts: the outbound HTTP client, the delivery worker and the
scheduler with its periodic jobs, started and stopped together (``gateway serve`` and
``gateway worker`` both run one)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from gateway import ids
from gateway.delivery.client import AiohttpDeliveryClient, DeliveryClient
from gateway.delivery.worker import Worker
from gateway.jobs import install_jobs
from gateway.scheduler import Scheduler
from gateway.settings import Settings
from gateway.store import Store, dialect
from gateway.store.notify import DueListener


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{ids.new_id('w')[-6:]}"


class Runtime:
    """The background parts of one process: worker and scheduler, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        delivery_client: DeliveryClient | None = None,
        run_worker: bool = True,
        run_scheduler: bool = True,
        role: str = "serve",
    ) -> None:
        self.settings = settings
        self.store = store
        self.owner = process_owner()
        self.client = delivery_client or AiohttpDeliveryClient(settings.allowed_networks())
        self.worker = Worker(store, self.client, settings, owner=self.owner) if run_worker else None
        self.scheduler = Scheduler(store, self.owner, role) if run_scheduler else None
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []  # run at close, in order
        # PostgreSQL: intake in any process wakes this worker (LISTEN/NOTIFY, store/notify.py).
        self.listener = (
            DueListener(store.engine.url, self.wake_worker)
            if self.worker is not None and dialect.is_postgresql(store.engine)
            else None
        )
        self._listening: asyncio.Task[None] | None = None

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wakeup.set()

    async def start(self) -> None:
        if self.scheduler is not None:
            self.closers += install_jobs(
                self.scheduler, self.store, self.settings, self.wake_worker
            )
        if self.scheduler is not None:
            self.scheduler.start()
        if self.worker is not None:
            self._tasks.append(asyncio.create_task(self.worker.run(self.stop), name="worker"))
        if self.listener is not None:
            self._listening = asyncio.create_task(self.listener.run(), name="due-listener")

    async def close(self) -> None:
        self.stop.set()
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        if self.scheduler is not None:
            self.scheduler.shutdown()
        bound = self.settings.shutdown_seconds + 5  # the worker keeps its own bound; a margin
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=bound)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        for closer in self.closers:
            await closer()
        await self.client.close()
