"""``/integrations/keys``: admins create, list and revoke API keys (the key is shown once, stored
hashed, and never listed)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import endpoint
from gateway.api.common import run, services
from gateway.api.parsing import paging, parse_body
from gateway.api.responses import camel, json_response, page_body
from gateway.api.schemas import KeyIn
from gateway.errors import ForbiddenError, NotFoundError
from gateway.store import Principal
from gateway.store.records import ApiKeyRecord


def _admin_only(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise ForbiddenError(f"only an admin key may {what}")


@endpoint
async def create_key(request: Request, principal: Principal) -> Response:
    _admin_only(principal, "create keys")
    body = await parse_body(request, KeyIn)
    svc = services(request)
    key_id, key = await run(
        svc.store.create_api_key,
        tenant_id=body.tenant_id,
        name=body.name,
        is_admin=body.admin,
    )
    return json_response(
        {"keyId": key_id, "key": key, "tenantId": body.tenant_id, "admin": body.admin}, 201
    )


def key_out(row: ApiKeyRecord) -> dict[str, Any]:
    """A key as listed: who it is for and when it was used, never the key or its hash."""
    out: dict[str, Any] = camel(
        {
            "tenant_id": row.tenant_id,
            "name": row.name,
            "created_at": row.created_at,
            "last_used_at": row.last_used_at,
        }
    )
    return {"keyId": row.id, **out, "admin": bool(row.is_admin)}


@endpoint
async def list_keys(request: Request, principal: Principal) -> Response:
    _admin_only(principal, "list keys")
    tenant_id = request.query_params.get("tenantId") or None
    page, size = paging(request)
    rows, total = await run(
        services(request).store.list_api_keys, tenant_id, page=page, page_size=size
    )
    return json_response(page_body([key_out(r) for r in rows], page, size, total))


@endpoint
async def revoke_key(request: Request, principal: Principal) -> Response:
    """Revoked at once here, and within ``KeyCache.CHECK_SECONDS`` in every other process."""
    _admin_only(principal, "revoke keys")
    svc = services(request)
    key_id = request.path_params["id"]
    if not await run(svc.store.revoke_api_key, key_id):
        raise NotFoundError(f"key {key_id} not found")
    svc.keys.invalidate()
    return Response(status_code=204)


routes = [
    Route("/integrations/keys", create_key, methods=["POST"]),
    Route("/integrations/keys", list_keys, methods=["GET"]),
    Route("/integrations/keys/{id}", revoke_key, methods=["DELETE"]),
]
