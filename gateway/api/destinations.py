"""``/integrations/destinations``: CRUD, secret rotation, enable/disable, test sends."""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import body_tenant, check_tenant, endpoint, scope_tenant
from gateway.api.common import run, services
from gateway.api.parsing import paging, parse_body
from gateway.api.responses import json_response, page_body
from gateway.api.schemas import (
    DestinationIn,
    DestinationPatch,
    DisableIn,
    TestSendIn,
    delivery_out,
    destination_out,
)
from gateway.api.urlcheck import guard_url
from gateway.catalog import catalog
from gateway.errors import ValidationError
from gateway.fanout import subscribes
from gateway.models import DestinationStatus, SigningAlgorithm
from gateway.signing import public_key_for
from gateway.store import Principal, Store
from gateway.store.records import DestinationRecord


async def load_destination(
    store: Store, principal: Principal, destination_id: str
) -> DestinationRecord:
    row = await run(store.get_destination, destination_id)
    check_tenant(principal, row.tenant_id, f"destination {destination_id}")
    return row


def with_public_key(store: Store, row: DestinationRecord, out: dict[str, Any]) -> dict[str, Any]:
    if row.signing == SigningAlgorithm.ED25519.value:
        view = store.destination_view(row)
        out["publicKeys"] = [public_key_for(k.secret) for k in view.keys]
    return out


@endpoint
async def create_destination(request: Request, principal: Principal) -> Response:
    body = await parse_body(request, DestinationIn)
    await guard_url(services(request), body.url, "url")
    store = services(request).store
    values = body.model_dump(exclude_none=True)
    values["tenant_id"] = body_tenant(principal, body.tenant_id)
    row, secret = await run(store.create_destination, values)
    return json_response(with_public_key(store, row, destination_out(row, secret)), 201)


@endpoint
async def list_destinations(request: Request, principal: Principal) -> Response:
    page, size = paging(request)
    q = request.query_params
    rows, total = await run(
        services(request).store.list_destinations,
        tenant_id=scope_tenant(principal, q.get("tenantId") or None),
        page=page,
        page_size=size,
        connector=q.get("connector") or None,
        url=q.get("url") or None,
    )  # empty = not given
    return json_response(page_body([destination_out(r) for r in rows], page, size, total))


@endpoint
async def get_destination(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await load_destination(store, principal, request.path_params["id"])
    return json_response(with_public_key(store, row, destination_out(row)))


@endpoint
async def patch_destination(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await load_destination(store, principal, request.path_params["id"])
    body = await parse_body(request, DestinationPatch)
    if body.url is not None:
        await guard_url(services(request), body.url, "url")
    changes = body.model_dump(exclude_unset=True, exclude={"expected_version"})
    updated = await run(store.patch_destination, row.id, changes, body.expected_version)
    return json_response(destination_out(updated))


@endpoint
async def delete_destination(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await load_destination(store, principal, request.path_params["id"])
    await run(store.delete_destination, row.id)
    return Response(status_code=204)


@endpoint
async def rotate_secret(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await load_destination(store, principal, request.path_params["id"])
    updated, secret = await run(store.rotate_secret, row.id)
    return json_response(with_public_key(store, updated, destination_out(updated, secret)))


@endpoint
async def enable_destination(request: Request, principal: Principal) -> Response:
    svc = services(request)
    row = await load_destination(svc.store, principal, request.path_params["id"])
    updated = await run(svc.store.set_destination_status, row.id, DestinationStatus.ACTIVE)
    svc.wake_worker()
    return json_response(destination_out(updated))


@endpoint
async def disable_destination(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await load_destination(store, principal, request.path_params["id"])
    body = await parse_body(request, DisableIn)  # the body is optional: ``{"reason"?}``
    updated = await run(
        store.set_destination_status,
        row.id,
        DestinationStatus.DISABLED,
        body.reason or "disabled by operator",
    )
    return json_response(destination_out(updated))


@endpoint
async def test_destination(request: Request, principal: Principal) -> Response:
    svc = services(request)
    row = await load_destination(svc.store, principal, request.path_params["id"])
    body = await parse_body(request, TestSendIn)
    event_type = body.event_type or next(
        (t for t in catalog() if subscribes(row.event_types, t)), next(iter(catalog()))
    )
    if event_type not in catalog():
        raise ValidationError(
            f"unknown event type {event_type!r}",
            details=[{"path": "eventType", "message": f"one of {list(catalog())}"}],
        )
    data = copy.deepcopy(catalog()[event_type].example)
    delivery = await run(svc.store.create_test_delivery, row, event_type, data)
    svc.wake_worker()
    return json_response(delivery_out(delivery), 201)


routes = [
    Route("/integrations/destinations", create_destination, methods=["POST"]),
    Route("/integrations/destinations", list_destinations, methods=["GET"]),
    Route("/integrations/destinations/{id}", get_destination, methods=["GET"]),
    Route("/integrations/destinations/{id}", patch_destination, methods=["PATCH"]),
    Route("/integrations/destinations/{id}", delete_destination, methods=["DELETE"]),
    Route("/integrations/destinations/{id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/integrations/destinations/{id}/enable", enable_destination, methods=["POST"]),
    Route("/integrations/destinations/{id}/disable", disable_destination, methods=["POST"]),
    Route("/integrations/destinations/{id}/test", test_destination, methods=["POST"]),
]
