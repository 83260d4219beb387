"""``/integrations/events`` (push intake, single and batch) and the event-type catalog."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.common import (
    body_tenant,
    check_tenant,
    endpoint,
    json_response,
    run,
    services,
    validate,
)
from gateway.api.schemas import EventIn, delivery_out, event_out
from gateway.catalog import catalog, validate_event_data
from gateway.errors import GatewayError, ValidationError
from gateway.opevents import is_operational
from gateway.store import EventIn as StoreEventIn
from gateway.store import Principal

MAX_BATCH = 1000


def _prepare(principal: Principal, payload: Any) -> StoreEventIn:
    item = validate(EventIn, payload)
    tenant_id = body_tenant(principal, item.tenant_id)
    if is_operational(item.type):
        raise ValidationError(
            f"{item.type} is emitted by the gateway itself",
            details=[{"path": "type", "message": "operational event types are not accepted"}],
        )
    validate_event_data(item.type, item.data)
    return StoreEventIn(id=item.id, tenant_id=tenant_id, type=item.type, data=item.data)


@endpoint
async def post_events(request: Request, principal: Principal) -> Response:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(
            "body is not valid JSON", details=[{"path": "", "message": str(exc)}]
        ) from exc
    svc = services(request)
    if isinstance(payload, dict) and "events" in payload:
        return await _post_batch(svc, principal, payload["events"])
    item = _prepare(principal, payload)
    [result] = await run(svc.store.ingest_events, [item])
    if result.status == "conflict":
        raise ValidationError(
            f"event id {result.event_id} is taken",
            details=[{"path": "id", "message": "used by another tenant"}],
        )
    svc.wake_worker()
    status = 202 if result.status == "created" else 200
    return json_response(
        {"eventId": result.event_id, "status": result.status, "deliveryIds": result.delivery_ids},
        status,
    )


async def _post_batch(svc: Any, principal: Principal, items: Any) -> Response:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationError(
            f"events must be a list of 1 to {MAX_BATCH} items",
            details=[{"path": "events", "message": f"1..{MAX_BATCH} items"}],
        )
    results: list[dict[str, Any] | None] = [None] * len(items)
    accepted: list[tuple[int, StoreEventIn]] = []
    for index, payload in enumerate(items):
        try:
            accepted.append((index, _prepare(principal, payload)))
        except GatewayError as exc:
            results[index] = {
                "eventId": payload.get("id") if isinstance(payload, dict) else None,
                "status": "rejected",
                "error": {"code": exc.code, "message": exc.message, "details": exc.details},
            }
    stored = await run(svc.store.ingest_events, [e for _, e in accepted]) if accepted else []
    for (index, _), result in zip(accepted, stored, strict=True):
        entry: dict[str, Any] = {
            "eventId": result.event_id,
            "status": result.status,
            "deliveryIds": result.delivery_ids,
        }
        if result.status == "conflict":
            entry = {
                "eventId": result.event_id,
                "status": "rejected",
                "error": {
                    "code": "validation_error",
                    "message": "id used by another tenant",
                    "details": [],
                },
            }
        results[index] = entry
    svc.wake_worker()
    return json_response({"results": results}, 202)


@endpoint
async def get_event(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await run(store.get_event, request.path_params["id"])
    check_tenant(principal, row["tenant_id"], f"event {row['id']}")
    deliveries = await run(store.deliveries_of_event, row["id"])
    attempts = await run(store.attempts_for, [d["id"] for d in deliveries])
    out = event_out(row)
    out["deliveries"] = [delivery_out(d, attempts.get(d["id"], [])) for d in deliveries]
    return json_response(out)


@endpoint
async def event_types(request: Request, principal: Principal) -> Response:
    items = [
        {
            "name": spec.name,
            "description": spec.description,
            "schema": spec.schema,
            "example": spec.example,
        }
        for spec in catalog().values()
    ]
    return json_response({"items": items, "page": 1, "pageSize": len(items), "total": len(items)})


routes = [
    Route("/integrations/events", post_events, methods=["POST"]),
    Route("/integrations/events/{id}", get_event, methods=["GET"]),
    Route("/integrations/event-types", event_types, methods=["GET"]),
]
