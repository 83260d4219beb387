"""``/hooks/{platform}``: how Zapier, Make and n8n subscribe, fetch samples and poll (CONTRACT §3).

A subscription is a destination with ``connector`` = the platform and ``subscription`` set, so it
shows up and can be operated in ``/integrations/*`` like any other. Zapier's REST hooks send
``targetUrl``/``hookUrl``, Make's attached hooks ``url``, n8n's trigger nodes ``url`` or
``target_url``: all four keys are accepted.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.adapters import Connector
from gateway.api.auth import body_tenant, endpoint, scope_tenant
from gateway.api.common import run, services
from gateway.api.parsing import query_int, query_time, read_json
from gateway.api.responses import json_response
from gateway.api.schemas import _check_url
from gateway.api.urlcheck import guard_url
from gateway.catalog import catalog
from gateway.errors import NotFoundError, ValidationError
from gateway.models import iso
from gateway.registry import PLATFORMS, get_connector
from gateway.store import Principal, Store
from gateway.store.records import DestinationRecord, EventRecord

URL_KEYS = ("url", "hookUrl", "targetUrl", "target_url")
SAMPLE_COUNT = 3
DEFAULT_POLL_LIMIT = 50
MAX_POLL_LIMIT = 100


def _platform(request: Request) -> str:
    platform = str(request.path_params["platform"])
    if platform not in PLATFORMS:
        raise NotFoundError(f"unknown platform {platform!r}; one of {list(PLATFORMS)}")
    return platform


def _event_type(value: Any, path: str) -> str:
    if not isinstance(value, str) or value not in catalog():
        raise ValidationError(
            f"unknown event type {value!r}",
            details=[{"path": path, "message": f"one of {sorted(catalog())}"}],
        )
    return value


def _subscription_out(row: DestinationRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "event": row.event_types[0],
        "createdAt": iso(row.created_at),
        "status": row.status,
    }


async def _find(
    store: Store, tenant_id: str | None, platform: str, url: str | None, event: str | None
) -> list[DestinationRecord]:
    rows, _ = await run(
        store.list_destinations,
        tenant_id=tenant_id,
        page=1,
        page_size=100,
        connector=platform,
        url=url,
        event_type=event,
    )
    return [r for r in rows if r.subscription]


@endpoint
async def subscribe(request: Request, principal: Principal) -> Response:
    platform = _platform(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object")
    url = next((body[k] for k in URL_KEYS if isinstance(body.get(k), str) and body[k]), None)
    if url is None:
        raise ValidationError(
            "a target URL is required",
            details=[{"path": "url", "message": f"send it as one of {list(URL_KEYS)}"}],
        )
    try:
        _check_url(url)
    except ValueError as exc:
        raise ValidationError(str(exc), details=[{"path": "url", "message": str(exc)}]) from exc
    await guard_url(services(request), url, "url")
    event = _event_type(body.get("event") or "task.completed", "event")
    filter_ = body.get("filter")
    if filter_ is not None and not isinstance(filter_, dict):
        raise ValidationError("filter must be an object", details=[{"path": "filter"}])
    tenant_id = body_tenant(principal, body.get("tenantId"))
    store = services(request).store
    existing = await _find(store, tenant_id, platform, url, event)
    if existing:
        return json_response(_subscription_out(existing[0]), 200)
    row, secret = await run(
        store.create_destination,
        {
            "tenant_id": tenant_id,
            "name": f"{platform} subscription",
            "connector": platform,
            "url": url,
            "event_types": [event],
            "filter": filter_,
            "subscription": True,
        },
    )
    return json_response({**_subscription_out(row), "secret": secret}, 201)


@endpoint
async def me(request: Request, principal: Principal) -> Response:
    """The key's own identity: the platforms' connection test and connection label."""
    return json_response(
        {"tenantId": principal.tenant_id, "keyId": principal.key_id, "name": principal.name}
    )


@endpoint
async def unsubscribe(request: Request, principal: Principal) -> Response:
    """204 whatever happens: platforms retry unsubscribes and must not see errors for gone ids."""
    platform = _platform(request)
    store = services(request).store
    try:
        row = await run(store.get_destination, request.path_params["id"])
    except NotFoundError:
        return Response(status_code=204)
    if row.connector == platform and row.subscription and principal.can_see(row.tenant_id):
        with contextlib.suppress(NotFoundError):  # a concurrent unsubscribe won
            await run(store.delete_destination, row.id)
    return Response(status_code=204)


@endpoint
async def list_subscriptions(request: Request, principal: Principal) -> Response:
    platform = _platform(request)
    q = request.query_params
    event = _event_type(q["event"], "event") if q.get("event") else None
    rows = await _find(
        services(request).store,
        scope_tenant(principal, q.get("tenantId")),
        platform,
        q.get("url") or None,
        event,
    )
    return json_response([_subscription_out(r) for r in rows])


def _tenant_for_reads(principal: Principal, request: Request) -> str:
    tenant = scope_tenant(principal, request.query_params.get("tenantId"))
    if tenant is None:
        raise ValidationError(
            "tenantId is required with an admin key",
            details=[{"path": "tenantId", "message": "required"}],
        )
    return tenant


async def _recent(
    request: Request, principal: Principal, limit: int, since: datetime | None = None
) -> tuple[Connector, str, list[EventRecord]]:
    """The platform's adapter, the path's event type and the tenant's newest events of it."""
    platform = _platform(request)
    event_type = _event_type(request.path_params["event_type"], "eventType")
    tenant = _tenant_for_reads(principal, request)
    rows = await run(
        services(request).store.recent_events,
        tenant_id=tenant,
        event_type=event_type,
        limit=limit,
        since=since,
    )
    return get_connector(platform), event_type, rows


@endpoint
async def samples(request: Request, principal: Principal) -> Response:
    """Newest first, at most 3, exactly the live shape; a synthetic one before any data."""
    adapter, event_type, rows = await _recent(request, principal, SAMPLE_COUNT)
    if not rows:
        example = copy.deepcopy(catalog()[event_type].example)
        return json_response([adapter.samples(event_type, example)])
    return json_response([adapter.samples(event_type, r.data, r.id) for r in rows])


@endpoint
async def poll_events(request: Request, principal: Principal) -> Response:
    """The polling trigger: newest first, a unique ``id`` per item (Zapier dedupes on it)."""
    limit = query_int(request, "limit", DEFAULT_POLL_LIMIT, 1, MAX_POLL_LIMIT)
    since = query_time(request, "since")
    adapter, event_type, rows = await _recent(request, principal, limit, since)
    return json_response([adapter.samples(event_type, r.data, r.id) for r in rows])


routes = [
    Route("/hooks/me", me, methods=["GET"]),
    Route("/hooks/{platform}", subscribe, methods=["POST"]),
    Route("/hooks/{platform}", list_subscriptions, methods=["GET"]),
    Route("/hooks/{platform}/samples/{event_type}", samples, methods=["GET"]),
    Route("/hooks/{platform}/events/{event_type}", poll_events, methods=["GET"]),
    Route("/hooks/{platform}/{id}", unsubscribe, methods=["DELETE"]),
]
