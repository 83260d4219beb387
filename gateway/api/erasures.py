"""Erasure (CONTRACT §3): ``DELETE /integrations/events/{id}`` and durable match erasures.

Also ``GET /integrations/destinations/{id}/operational-events``: the operational events about one
destination, newest first (the dashboard's list on a destination's page).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import body_tenant, check_tenant, endpoint
from gateway.api.common import ApiModel, run, services
from gateway.api.parsing import parse_body, query_int
from gateway.api.responses import json_response, page_body
from gateway.api.schemas import event_out
from gateway.models import iso
from gateway.store import Principal
from gateway.store.records import ErasureRecord

MAX_MATCH_PATHS = 20


class ErasureIn(ApiModel):
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    match: dict[str, Any] = Field(min_length=1, max_length=MAX_MATCH_PATHS)

    @field_validator("match")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, wanted in value.items():
            if not path or len(path) > 200 or any(not part for part in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted path into data")
            if wanted is None or wanted == [] or isinstance(wanted, dict):
                raise ValueError(f"{path!r}: match a value (or a list of values), not {wanted!r}")
        return value


def erasure_out(row: ErasureRecord) -> dict[str, Any]:
    """The audit row as the API shows it: never the matched value, only its hash."""
    return {
        "id": row.id,
        "erasureId": row.id,
        "tenantId": row.tenant_id,
        "kind": row.kind,
        "status": row.status,
        "matched": row.matched,
        "erased": row.erased,
        "keyId": row.key_id,
        "matchPaths": row.match_paths,
        "matchHash": row.match_hash,
        "createdAt": iso(row.created_at),
        "completedAt": iso(row.completed_at) if row.completed_at else None,
    }


@endpoint
async def delete_event(request: Request, principal: Principal) -> Response:
    store = services(request).store
    event = await run(store.get_event, request.path_params["id"])
    check_tenant(principal, event.tenant_id, f"event {event.id}")
    await run(store.erase_event, event.id, key_id=principal.key_id)
    return Response(status_code=204)


@endpoint
async def create_erasure(request: Request, principal: Principal) -> Response:
    body = await parse_body(request, ErasureIn)
    tenant_id = body_tenant(principal, body.tenant_id)
    store = services(request).store
    row = await run(
        store.create_erasure, tenant_id=tenant_id, match=body.match, key_id=principal.key_id
    )
    return json_response(erasure_out(row), 202)


@endpoint
async def get_erasure(request: Request, principal: Principal) -> Response:
    row = await run(services(request).store.get_erasure, request.path_params["id"])
    check_tenant(principal, row.tenant_id, f"erasure {row.id}")
    return json_response(erasure_out(row))


@endpoint
async def operational_events(request: Request, principal: Principal) -> Response:
    store = services(request).store
    destination = await run(store.get_destination, request.path_params["id"])
    check_tenant(principal, destination.tenant_id, f"destination {destination.id}")
    limit = query_int(request, "limit", 20, 1, 100)
    rows = await run(
        store.operational_events_of, destination.tenant_id, destination.id, limit=limit
    )
    return json_response(page_body([event_out(r) for r in rows], 1, limit, len(rows)))


routes = [
    Route("/integrations/events/{id}", delete_event, methods=["DELETE"]),
    Route("/integrations/erasures", create_erasure, methods=["POST"]),
    Route("/integrations/erasures/{id}", get_erasure, methods=["GET"]),
    Route(
        "/integrations/destinations/{id}/operational-events", operational_events, methods=["GET"]
    ),
]
