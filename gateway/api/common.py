"""What every API module shares: services, auth, errors, paging, camelCase output."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway import payload
from gateway.api.auth import KeyCache
from gateway.delivery.client import DeliveryClient
from gateway.errors import (
    AuthError,
    GatewayError,
    NotFoundError,
    PayloadTooLarge,
    StoreUnavailable,
    ValidationError,
)
from gateway.intake import Committer
from gateway.models import iso
from gateway.settings import Settings
from gateway.store import Principal, Store

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


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


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store verb off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class ApiModel(BaseModel):
    """Request bodies: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


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


def load_json(raw: bytes) -> Any:
    """The parsed body, not yet checked (``payload.Unusable`` markers inside): for a batch route,
    which checks each item on its own. Bytes that are not JSON at all answer 422."""
    try:
        return payload.load(raw)
    except payload.NotJson as exc:
        raise ValidationError(
            "body is not valid JSON", details=[{"path": "", "message": str(exc)}]
        ) from None


def checked(value: Any, path: str = "", depth: int = 1) -> Any:
    """``value`` if it meets the JSON rules of ``gateway.payload``; 422 naming each path if not."""
    problems = payload.check(value, path, depth)
    if problems:
        first = problems[0]
        raise ValidationError(
            f"unusable JSON at {first['path'] or 'the top level'}: {first['message']}",
            details=problems,
        )
    return value


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """Every JSON route's body reader: parsed and checked (depth, 64-bit integers, finite
    numbers, valid Unicode); ``empty`` when there is no body. The body's size is already bounded
    by ``RequestLimits``."""
    raw = await request.body()
    if not raw:
        return empty
    return checked(load_json(raw))


async def parse_body(request: Request, model: type[M]) -> M:
    return validate(model, await read_json(request, empty={}))


def validate(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        raise ValidationError(
            "invalid request body",
            details=[
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ],
        ) from exc


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name} must be an integer", details=[{"path": name, "message": "integer"}]
        ) from exc
    if not low <= value <= high:
        raise ValidationError(
            f"{name} must be between {low} and {high}",
            details=[{"path": name, "message": f"{low}..{high}"}],
        )
    return value


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ValidationError(
        f"{name} must be true or false", details=[{"path": name, "message": "bool"}]
    )


def query_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    return parse_time(raw, name)


def parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # OverflowError at the ends of the calendar
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{name} must be an ISO 8601 time", details=[{"path": name, "message": "ISO 8601"}]
        ) from exc


def paging(request: Request) -> tuple[int, int]:
    return (query_int(request, "page", 1, 1, 1000), query_int(request, "pageSize", 10, 1, 100))


def page_body(items: list[Any], page: int, page_size: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "pageSize": page_size, "total": total}


def camel(value: Any) -> Any:
    """Output form: camelCase keys, ISO times with Z."""
    if isinstance(value, dict):
        return {
            to_camel(k) if isinstance(k, str) and "_" in k else k: camel(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [camel(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


def times(value: Any) -> Any:
    """ISO times without touching key case (for user data such as event ``data``)."""
    if isinstance(value, dict):
        return {k: times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [times(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(fn: Callable[[Request, Principal], Awaitable[Response]]) -> Handler:
    """An authenticated route handler (``x-api-key`` checked first)."""

    async def wrapper(request: Request) -> Response:
        principal = await authenticate(request)
        return await fn(request, principal)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    if isinstance(exc, StoreUnavailable):
        log.warning("%s", exc.message, extra={"path": request.url.path})
        return json_response(
            error_body(exc.code, "the database is unavailable; retry later"),
            exc.status,
            headers={"retry-after": str(exc.retry_after)},
        )
    if exc.status >= 500:
        log.error("request failed: %s", exc, extra={"path": request.url.path})
        return json_response(error_body(exc.code, "internal error"), exc.status)
    headers = {"connection": "close"} if isinstance(exc, PayloadTooLarge) else None
    return json_response(error_body(exc.code, exc.message, exc.details), exc.status, headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in the contract's error shape."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return json_response(
        error_body(code, str(exc.detail)), exc.status_code, headers=dict(exc.headers or {})
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return json_response(error_body("internal_error", "internal error"), 500)
