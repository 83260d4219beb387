"""``/integrations/deliveries``: the log, detail with attempts, and replay of one delivery."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import check_tenant, endpoint, scope_tenant
from gateway.api.common import run, services
from gateway.api.parsing import paging, query_bool, query_time
from gateway.api.responses import json_response, page_body
from gateway.api.schemas import delivery_out
from gateway.errors import NotFoundError, ValidationError
from gateway.models import DeliveryStatus
from gateway.store import DeliveryFilter, Principal


def delivery_filter(request: Request, principal: Principal) -> DeliveryFilter:
    q = request.query_params
    status = q.get("status") or None
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise ValidationError(
            f"unknown status {status!r}",
            details=[{"path": "status", "message": f"one of {[s.value for s in DeliveryStatus]}"}],
        )
    return DeliveryFilter(
        tenant_id=scope_tenant(principal, q.get("tenantId") or None),
        destination_id=q.get("destinationId") or None,
        event_id=q.get("eventId") or None,
        status=status,
        is_test=query_bool(request, "isTest"),
        since=query_time(request, "since"),
        until=query_time(request, "until"),
        connector=q.get("connector") or None,
    )


async def visible_filter(request: Request, principal: Principal) -> DeliveryFilter:
    """``delivery_filter``, its ids checked: a ``destinationId`` or ``eventId`` the caller cannot
    see (another tenant's, or none at all) answers 404, as in a path (CONTRACT §3), rather than an
    empty page that would say nothing either way."""
    flt = delivery_filter(request, principal)
    store = services(request).store
    if flt.destination_id is not None:
        dst = await run(store.get_destination, flt.destination_id, include_deleted=True)
        check_tenant(principal, dst.tenant_id, f"destination {flt.destination_id}")
        if flt.tenant_id is not None and dst.tenant_id != flt.tenant_id:
            raise NotFoundError(f"destination {flt.destination_id} not found")
    if flt.event_id is not None and not await run(store.event_exists, flt.event_id, flt.tenant_id):
        raise NotFoundError(f"event {flt.event_id} not found")
    return flt


@endpoint
async def list_deliveries(request: Request, principal: Principal) -> Response:
    store = services(request).store
    flt = await visible_filter(request, principal)
    page, size = paging(request)
    rows, total = await run(store.list_deliveries, flt, page=page, page_size=size)
    if query_bool(request, "includeAttempts"):
        attempts = await run(store.attempts_for, [r.id for r in rows])
        items = [delivery_out(r, attempts[r.id]) for r in rows]
    else:
        items = [delivery_out(r) for r in rows]
    return json_response(page_body(items, page, size, total))


@endpoint
async def get_delivery(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await run(store.get_delivery, request.path_params["id"])
    check_tenant(principal, row.tenant_id, f"delivery {row.id}")
    attempts = None
    if query_bool(request, "includeAttempts") is not False:
        attempts = (await run(store.attempts_for, [row.id]))[row.id]
    return json_response(delivery_out(row, attempts))


@endpoint
async def replay_delivery(request: Request, principal: Principal) -> Response:
    svc = services(request)
    row = await run(svc.store.get_delivery, request.path_params["id"])
    check_tenant(principal, row.tenant_id, f"delivery {row.id}")
    replay = await run(svc.store.replay_delivery, row.id)
    svc.wake_worker()
    return json_response(delivery_out(replay), 201)


routes = [
    Route("/integrations/deliveries", list_deliveries, methods=["GET"]),
    Route("/integrations/deliveries/{id}", get_delivery, methods=["GET"]),
    Route("/integrations/deliveries/{id}/replay", replay_delivery, methods=["POST"]),
]
