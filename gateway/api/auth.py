"""Who is calling and which tenant they may see: the ``x-api-key`` check (through the
process's ``KeyCache``), the authenticated route wrapper, and tenant scoping (another tenant's
resource answers 404, as if it did not exist)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.common import Services, services
from gateway.errors import AuthError, NotFoundError, ValidationError
from gateway.store import Principal

Handler = Callable[[Request], Awaitable[Response]]


async def authenticate(request: Request) -> Principal:
    key = request.headers.get("x-api-key")
    if not key:
        raise AuthError("missing x-api-key header")
    return await principal_for_key(services(request), key)


async def principal_for_key(svc: Services, key: str) -> Principal:
    """Who ``key`` belongs to (see ``KeyCache``); ``AuthError`` for an unknown or revoked key."""
    return await svc.keys.principal(svc.store, svc.settings, key)


def check_tenant(principal: Principal, tenant_id: str, what: str) -> None:
    """Another tenant's resource answers 404, as if it did not exist."""
    if not principal.can_see(tenant_id):
        raise NotFoundError(f"{what} not found")


def scope_tenant(principal: Principal, requested: str | None) -> str | None:
    """The tenant a list is limited to: a tenant key's own, or the admin's choice."""
    if principal.is_admin:
        return requested
    if requested is not None and requested != principal.tenant_id:
        raise NotFoundError(f"tenant {requested} not found")
    return principal.tenant_id


def body_tenant(principal: Principal, tenant_id: str | None) -> str:
    """The tenant a created resource belongs to (a tenant key may omit or must match)."""
    if tenant_id is None:
        if principal.tenant_id is None:
            raise ValidationError(
                "tenantId is required", details=[{"path": "tenantId", "message": "required"}]
            )
        return principal.tenant_id
    check_tenant(principal, tenant_id, f"tenant {tenant_id}")
    return tenant_id


def endpoint(fn: Callable[[Request, Principal], Awaitable[Response]]) -> Handler:
    """An authenticated route handler (``x-api-key`` checked first)."""

    async def wrapper(request: Request) -> Response:
        principal = await authenticate(request)
        return await fn(request, principal)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
