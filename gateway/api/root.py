"""``GET /``: where to go from here (the dashboard, health, the API docs), not a 404.

A browser (``Accept: text/html``) gets a small page of links; anything else gets the same as JSON.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway import __version__
from gateway.api.responses import json_response

LINKS = {
    "dashboard": ("/dashboard", "the operations view (sign in with an API key)"),
    "health": ("/health", "database, scheduler and upstream checks"),
    "openapi": ("/integrations/openapi.json", "the operator API's OpenAPI document (x-api-key)"),
    "eventTypes": ("/integrations/event-types", "the event catalog: schemas and examples"),
    "metrics": ("/metrics", "Prometheus metrics (admin key or GATEWAY_METRICS_TOKEN)"),
}


async def root(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        items = "".join(
            f'<li><a href="{escape(path)}">{escape(path)}</a>: {escape(what)}</li>'
            for path, what in LINKS.values()
        )
        return HTMLResponse(
            "<!doctype html><html lang=en><meta charset=utf-8>"
            f"<title>person-gateway {__version__}</title>"
            f"<h1>person-gateway {__version__}</h1><ul>{items}</ul></html>",
            headers={"content-security-policy": "default-src 'none'"},
        )
    return json_response(
        {
            "name": "person-gateway",
            "version": __version__,
            "links": {name: {"href": path, "title": what} for name, (path, what) in LINKS.items()},
        }
    )


routes = [Route("/", root, methods=["GET"])]
