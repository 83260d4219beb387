"""The HTTP surface (CONTRACT §3), one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute


def all_routes() -> list[BaseRoute]:
    from gateway.api import deliveries, destinations, events, health, hooks, ingest, keys

    routes: list[BaseRoute] = []
    for module in (health, keys, destinations, events, deliveries, hooks, ingest):
        routes.extend(module.routes)
    return routes
