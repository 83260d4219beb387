"""``create_app(settings)``: the Starlette app; its lifespan opens the store, the HTTP clients,
the delivery worker and the scheduler (each optional, so tests and ``gateway worker`` pick)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from gateway import ids
from gateway.api import all_routes
from gateway.api.common import (
    Services,
    gateway_error_handler,
    http_error_handler,
    unhandled_error_handler,
)
from gateway.delivery.client import AiohttpDeliveryClient, DeliveryClient
from gateway.delivery.worker import Worker
from gateway.errors import GatewayError
from gateway.scheduler import Scheduler
from gateway.settings import Settings
from gateway.store import Store, open_store

log = logging.getLogger(__name__)


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
        self.extras: dict[str, Any] = {}

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wakeup.set()

    async def start(self) -> None:
        from gateway.jobs import install_jobs

        await install_jobs(self)
        if self.scheduler is not None:
            self.scheduler.start()
        if self.worker is not None:
            self._tasks.append(asyncio.create_task(self.worker.run(self.stop), name="worker"))

    async def close(self) -> None:
        self.stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        bound = self.settings.shutdown_seconds + 5  # the worker keeps its own bound; a margin
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=bound)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        for closer in self.extras.get("closers", []):
            await closer()
        await self.client.close()


def create_app(
    settings: Settings,
    *,
    delivery_client: DeliveryClient | None = None,
    run_worker: bool = True,
    run_scheduler: bool = True,
    store: Store | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        the_store = store if store is not None else await asyncio.to_thread(open_store, settings)
        runtime = Runtime(
            settings,
            the_store,
            delivery_client=delivery_client,
            run_worker=run_worker,
            run_scheduler=run_scheduler,
        )
        svc = Services(
            settings=settings,
            store=the_store,
            wake_worker=runtime.wake_worker,
            scheduler_running=lambda: bool(runtime.scheduler and runtime.scheduler.running),
        )
        svc.extras["runtime"] = runtime
        app.state.services = svc
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = Starlette(
        routes=[*all_routes(), *(extra_routes or [])],
        lifespan=lifespan,
        exception_handlers={
            GatewayError: gateway_error_handler,
            HTTPException: http_error_handler,
            Exception: unhandled_error_handler,
        },
    )
    return app
