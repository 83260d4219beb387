"""One answer per route, with or without a trailing slash, and never a redirect.

Starlette's router answers ``/hooks/zapier/`` with a 307 to ``/hooks/zapier``; Zapier's
runtime refuses redirects on some hosts, and a redirected POST may lose its body. So the
router's ``redirect_slashes`` is off and this middleware strips trailing slashes before
routing: both spellings reach the same handler. The dashboard keeps its own paths.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

UNTOUCHED_PREFIXES = ("/dashboard",)


class StripTrailingSlash:
    """ASGI middleware: ``/a/b/`` is routed as ``/a/b`` (``/`` stays ``/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and len(path) > 1
            and path.endswith("/")
            and not path.startswith(UNTOUCHED_PREFIXES)
        ):
            scope = dict(scope)
            scope["path"] = path.rstrip("/") or "/"
            raw = scope.get("raw_path")
            if isinstance(raw, bytes):
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
