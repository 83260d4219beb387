"""Writing a response: the output form (camelCase keys, ISO times with Z), paging, JSON
responses, and the error handlers that answer ``{"error": {"code", "message", "details"}}``
(anything not in the error tree is logged and answered as an opaque 500)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.errors import GatewayError, PayloadTooLarge, StoreUnavailable
from gateway.models import iso

log = logging.getLogger(__name__)


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


def page_body(items: list[Any], page: int, page_size: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "pageSize": page_size, "total": total}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


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
