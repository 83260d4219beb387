"""``GET /integrations/stream``: Server-Sent Events, one ``delivery`` event per status change.

The source is the ``delivery_changes`` log (append-only, ``seq`` ascending), polled every
``POLL_SECONDS``; the event ``id`` is the ``seq``, so a client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` do this by themselves) resumes exactly after the last
change it saw. A tenant key sees only its tenant's changes. A comment line every
``HEARTBEAT_SECONDS`` keeps proxies from closing an idle stream.

Browsers' ``EventSource`` cannot send headers, so the key may come as the ``apiKey`` query
parameter instead of ``x-api-key``; it is removed from the request before anything (the access
log included) can record the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.api.auth import check_tenant, principal_for_key, scope_tenant
from gateway.api.common import run, services
from gateway.errors import AuthError, GatewayError, ValidationError
from gateway.models import iso
from gateway.store import Store
from gateway.store.records import ChangeRecord
from gateway.store.stats import CHANGE_FEED_LIMIT

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
HORIZON_MAX_AGE_SECONDS = 0.25  # one horizon read serves every stream of the process this long
RETRY_MS = 2000  # what the browser waits before reconnecting


class ChangeHorizon:
    """The process's shared view of ``store.change_horizon()``, refreshed at most 4 times/s."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.value = 0
        self.read_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> int:
        async with self._lock:
            if time.monotonic() - self.read_at >= HORIZON_MAX_AGE_SECONDS:
                # A slow writer holding the lock too long: keep the last horizon.
                with contextlib.suppress(GatewayError):
                    self.value = await run(self.store.change_horizon)
                self.read_at = time.monotonic()
            return self.value


def _horizon(request: Request) -> ChangeHorizon:
    svc = services(request)
    if svc.change_horizon is None:
        svc.change_horizon = ChangeHorizon(svc.store)
    horizon: ChangeHorizon = svc.change_horizon
    return horizon


def _key(request: Request) -> str:
    """``x-api-key``, or ``apiKey`` in the query (stripped from the scope once read)."""
    pairs = parse_qsl(
        request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
    )
    key = next((v for k, v in pairs if k == "apiKey"), None)
    if key is not None:
        request.scope["query_string"] = urlencode(
            [(k, v) for k, v in pairs if k != "apiKey"]
        ).encode("latin-1")
    header = request.headers.get("x-api-key")
    if header or key is None:
        if not header:
            raise AuthError("missing x-api-key header")
        return str(header)
    return str(key)


def _start_seq(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            "Last-Event-ID must be an integer",
            details=[{"path": "Last-Event-ID", "message": "integer"}],
        ) from exc
    return max(0, value)


def change_out(row: ChangeRecord) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "deliveryId": row.delivery_id,
        "tenantId": row.tenant_id,
        "destinationId": row.destination_id,
        "status": row.status,
        "attemptCount": row.attempt_count,
        "at": iso(row.at),
        "eventId": row.event_id,
        "eventType": row.event_type,
        "connector": row.connector,
        "trigger": row.trigger,
        "replayOf": row.replay_of,
        "isTest": bool(row.is_test),
    }


def sse_event(row: ChangeRecord) -> str:
    return f"id: {row.seq}\nevent: delivery\ndata: {json.dumps(change_out(row))}\n\n"


async def stream(request: Request) -> Response:
    svc = services(request)
    key = _key(request)
    principal = await principal_for_key(svc, key)
    tenant_id = scope_tenant(principal, request.query_params.get("tenantId") or None)
    destination_id = request.query_params.get("destinationId") or None
    if destination_id is not None:
        destination = await run(svc.store.get_destination, destination_id)
        check_tenant(principal, destination.tenant_id, f"destination {destination_id}")
    horizon = _horizon(request)
    start = _start_seq(request)
    last = start if start is not None else await horizon.get()
    stopping = svc.stopping

    async def events() -> AsyncIterator[str]:
        nonlocal last
        yield f"retry: {RETRY_MS}\n: connected at seq {last}\n\n"
        quiet_since = time.monotonic()
        while not stopping.is_set():
            try:  # a key revoked while its stream is open: the stream ends (CONTRACT §3)
                await principal_for_key(svc, key)
            except AuthError:  # EventSource reconnects, and gets its 401
                yield ": key revoked\n\n"
                return
            upto = await horizon.get()
            rows = (
                await run(
                    svc.store.changes_after,
                    last,
                    upto=upto,
                    tenant_id=tenant_id,
                    destination_id=destination_id,
                )
                if upto > last
                else []
            )
            full = len(rows) >= CHANGE_FEED_LIMIT
            if upto > last:
                # A short page means every change up to the horizon was seen (others' included).
                last = rows[-1].seq if full else upto
            if rows:
                yield "".join(sse_event(r) for r in rows)
                quiet_since = time.monotonic()
                if full:
                    continue  # catching up: no pause
            elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                yield f": heartbeat {iso(svc.store.clock())}\n\n"
                quiet_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={
            "cache-control": "no-store",
            "x-accel-buffering": "no",
            "connection": "keep-alive",
        },
    )


routes = [Route("/integrations/stream", stream, methods=["GET"])]
