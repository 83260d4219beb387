"""``GET /health``: database, scheduler and upstream checks (public)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.api.common import json_response, run, services
from gateway.api.storage import storage_check
from gateway.errors import GatewayError
from gateway.models import iso
from gateway.upstream.poller import upstream_health

HEARTBEAT_STALE = timedelta(seconds=60)


async def health(request: Request) -> Response:
    svc = services(request)
    checks: dict[str, Any] = {}
    try:
        await run(svc.store.ping)
        checks["database"] = {"status": "ok", "dialect": svc.store.dialect}
    except GatewayError as exc:
        checks["database"] = {"status": "failing", "error": exc.message}
    if svc.scheduler_running():
        checks["scheduler"] = {"status": "ok", "where": "this process"}
    else:
        try:
            beat = await run(svc.store.last_heartbeat)
        except GatewayError:
            beat = None
        fresh = beat is not None and svc.store.clock() - beat < HEARTBEAT_STALE
        checks["scheduler"] = {
            "status": "ok" if fresh else "failing",
            "lastHeartbeat": iso(beat) if beat else None,
        }
    try:
        checks["upstream"] = await run(upstream_health, svc.store, svc.settings)
    except GatewayError as exc:
        checks["upstream"] = {"status": "unknown", "error": exc.message}
    try:
        checks["storage"] = await run(storage_check, svc.store, svc.settings)
    except GatewayError as exc:
        checks["storage"] = {"status": "unknown", "error": exc.message}
    failing = [name for name, c in checks.items() if c.get("status") == "failing"]
    warned = [name for name, c in checks.items() if c.get("status") == "warning"]
    status = "degraded" if failing or warned else "ok"
    body = {"status": status, "version": __version__, "checks": checks}
    return json_response(body, 503 if "database" in failing else 200)


routes = [Route("/health", health, methods=["GET"])]
