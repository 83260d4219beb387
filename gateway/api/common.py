"""What every API module shares: the services a handler may use, the store call off the event
loop, and the base of request bodies. Auth and tenant scoping live in ``auth.py``, request
parsing in ``parsing.py``, responses and the error handlers in ``responses.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.requests import Request

from gateway.api.keycache import KeyCache
from gateway.delivery.client import DeliveryClient
from gateway.intake import Committer
from gateway.settings import Settings
from gateway.store import Store

T = TypeVar("T")
P = ParamSpec("P")


@dataclass
class Services:
    """Everything a request handler may use; built once in the lifespan."""

    settings: Settings
    store: Store
    # The process's guarded outbound client (test sends, Qualtrics fetches); None in API-only
    # test apps that never send.
    client: DeliveryClient | None = None
    # Set when the process is stopping: long-lived responses (the SSE stream) end at once.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    wake_worker: Callable[[], None] = lambda: None
    scheduler_running: Callable[[], bool] = lambda: False
    # The SSE stream's shared reader of the newest change row (gateway/api/stream.py).
    change_horizon: Any = None
    keys: KeyCache = field(default_factory=KeyCache)
    # Group commit for single events (gateway/intake.py); None: each event commits alone.
    intake: Committer | None = None


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking store verb off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class ApiModel(BaseModel):
    """Request bodies: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
