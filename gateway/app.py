"""``create_app(settings)``: the Starlette app; its lifespan opens the store and starts the
process's ``Runtime`` (gateway/runtime.py: the HTTP client, the delivery worker and the scheduler,
each optional, so tests and ``gateway worker`` pick)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from gateway.api import all_routes
from gateway.api.common import Services
from gateway.api.limits import RequestLimits
from gateway.api.paths import StripTrailingSlash
from gateway.api.responses import gateway_error_handler, http_error_handler, unhandled_error_handler
from gateway.delivery.client import DeliveryClient
from gateway.errors import GatewayError
from gateway.intake import Committer
from gateway.redaction import database_password, install_log_masking
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store, open_store

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    delivery_client: DeliveryClient | None = None,
    run_worker: bool = True,
    run_scheduler: bool = True,
    store: Store | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    install_log_masking(database_password(settings.database_url))

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
        intake = Committer(the_store.ingest_events, runtime.wake_worker)
        svc = Services(
            settings=settings,
            store=the_store,
            client=runtime.client,
            stopping=runtime.stop,
            wake_worker=runtime.wake_worker,
            scheduler_running=lambda: bool(runtime.scheduler and runtime.scheduler.running),
            intake=intake,
        )
        app.state.services = svc
        await runtime.start()
        intake.start()
        try:
            yield
        finally:
            await intake.close()  # every queued event committed and answered first
            await runtime.close()

    app = Starlette(
        routes=[*all_routes(), *(extra_routes or [])],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestLimits, max_request_bytes=settings.max_request_bytes),
            Middleware(StripTrailingSlash),
        ],
        exception_handlers={
            GatewayError: gateway_error_handler,
            HTTPException: http_error_handler,
            Exception: unhandled_error_handler,
        },
    )
    app.router.redirect_slashes = False  # StripTrailingSlash answers both spellings instead
    return app
