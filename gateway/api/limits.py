"""``RequestLimits``: the pure ASGI middleware that bounds every request before a route sees it.

- A body over ``GATEWAY_MAX_REQUEST_BYTES`` answers 413 ``payload_too_large``: at once when the
  ``Content-Length`` says so (nothing of the body is read), otherwise as soon as the bytes received
  pass the limit (chunked uploads); the route never holds more than the limit in memory. It sits in
  front of every route, ``/ingest/*`` included, because it wraps the router itself.
- A NUL character in the path or the query string answers 422: PostgreSQL text cannot hold it,
  and no id, filter or time the gateway reads may contain one.

The 413 carries ``Connection: close``: the server does not read the rest of a body it refused.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.responses import error_body, json_response
from gateway.errors import PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body over {limit} bytes (GATEWAY_MAX_REQUEST_BYTES)",
        details=[{"path": "", "message": f"at most {limit} bytes"}],
    )


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_request_bytes: int) -> None:
        self.app = app
        self.limit = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_at_once(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large(self.limit)  # the app's error handler answers 413
            return message

        await self.app(scope, limited_receive, send)

    def _refuse_at_once(self, scope: Scope) -> Any:
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            return json_response(
                error_body(
                    "validation_error",
                    "the NUL character is not allowed in a path or query",
                    [{"path": "query", "message": "NUL character"}],
                ),
                422,
            )
        for name, value in scope.get("headers", []):
            if name != b"content-length":
                continue
            try:
                declared = int(value)
            except ValueError:
                return json_response(
                    error_body("bad_request", "Content-Length is not a number"), 400
                )
            if declared > self.limit:
                exc = _too_large(self.limit)
                return json_response(
                    error_body(exc.code, exc.message, exc.details),
                    413,
                    headers={"connection": "close"},
                )
        return None
