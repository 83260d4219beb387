"""``GET /health``: database, scheduler and upstream checks (public)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.api.auth import authenticate
from gateway.api.common import Services, run, services
from gateway.api.responses import json_response
from gateway.api.storage import storage_check
from gateway.errors import GatewayError
from gateway.models import iso
from gateway.upstream.poller import upstream_health

HEARTBEAT_STALE = timedelta(seconds=60)


async def health(request: Request) -> Response:
    """Each check ``ok`` or ``failing`` for anyone (load balancers, uptime probes); the details
    (error texts, the upstream's URL, heartbeat times) only for an admin key: a database error
    text names hosts, users and schema."""
    svc = services(request)
    checks = await _checks(svc)
    failing = [name for name, c in checks.items() if c.get("status") == "failing"]
    warned = [name for name, c in checks.items() if c.get("status") == "warning"]
    status = "degraded" if failing or warned else "ok"
    body: dict[str, Any] = {"status": status, "version": __version__}
    if await _is_admin(request):
        body["checks"] = checks
    else:  # the verdicts only: ok, warning (the database is past its size) or failing
        body["checks"] = {
            name: {"status": c["status"] if c["status"] in ("failing", "warning") else "ok"}
            for name, c in checks.items()
        }
    return json_response(body, 503 if "database" in failing else 200)


async def _is_admin(request: Request) -> bool:
    if not request.headers.get("x-api-key"):
        return False
    try:
        return (await authenticate(request)).is_admin
    except GatewayError:  # a wrong key, or no database to check it against: the public view
        return False


async def _checks(svc: Services) -> dict[str, Any]:
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
        checks["upstream"] = {"status": "failing", "error": exc.message}
    try:
        checks["storage"] = await run(storage_check, svc.store, svc.settings)
    except GatewayError as exc:
        checks["storage"] = {"status": "failing", "error": exc.message}
    return checks


routes = [Route("/health", health, methods=["GET"])]
