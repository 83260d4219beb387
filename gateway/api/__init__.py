"""The HTTP surface (CONTRACT §3), one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute


def all_routes() -> list[BaseRoute]:
    from gateway.api import (
        dashboard,
        deliveries,
        destinations,
        erasures,
        events,
        export,
        health,
        hooks,
        ingest,
        keys,
        metrics,
        openapi,
        replays,
        root,
        stats,
        stream,
    )

    routes: list[BaseRoute] = []
    for module in (
        root,
        health,
        keys,
        destinations,
        events,
        erasures,
        deliveries,
        hooks,
        ingest,
        export,
        replays,
        stream,
        stats,
        metrics,
        dashboard,
        openapi,
    ):
        routes.extend(module.routes)
    return routes
