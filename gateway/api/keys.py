"""``/integrations/keys``: admins create tenant keys (shown once, stored hashed)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.common import endpoint, json_response, parse_body, run, services
from gateway.api.schemas import KeyIn
from gateway.errors import ForbiddenError
from gateway.store import Principal


@endpoint
async def create_key(request: Request, principal: Principal) -> Response:
    if not principal.is_admin:
        raise ForbiddenError("only an admin key may create keys")
    body = await parse_body(request, KeyIn)
    key_id, key = await run(
        services(request).store.create_api_key,
        tenant_id=body.tenant_id,
        name=body.name,
        is_admin=body.admin,
    )
    return json_response(
        {"keyId": key_id, "key": key, "tenantId": body.tenant_id, "admin": body.admin}, 201
    )


routes = [Route("/integrations/keys", create_key, methods=["POST"])]
