"""``/integrations/replays``: durable bulk replays (create, dry-run count, progress, cancel)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import check_tenant, endpoint, scope_tenant
from gateway.api.common import ApiModel, run, services
from gateway.api.parsing import paging, parse_body
from gateway.api.responses import json_response, page_body
from gateway.errors import NotFoundError, ValidationError
from gateway.models import DeliveryStatus, iso
from gateway.store import Principal, ReplayFilter
from gateway.store.records import ReplayRecord


class ReplayIn(ApiModel):
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    destination_id: str | None = Field(None, min_length=1, max_length=200)
    status: DeliveryStatus | None = None
    since: datetime
    until: datetime | None = None
    dry_run: bool = False


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def replay_out(row: ReplayRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "replayId": row.id,
        "tenantId": row.tenant_id,
        "status": row.status,
        "matched": row.matched,
        "created": row.created,
        "filters": row.filters,
        "error": row.error,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


async def _replay_filter(request: Request, principal: Principal, body: ReplayIn) -> ReplayFilter:
    store = services(request).store
    tenant_id = scope_tenant(principal, body.tenant_id)
    if body.destination_id is not None:
        destination = await run(store.get_destination, body.destination_id)
        check_tenant(principal, destination.tenant_id, f"destination {body.destination_id}")
        if tenant_id is not None and destination.tenant_id != tenant_id:
            raise ValidationError(
                "destinationId belongs to another tenant",
                details=[{"path": "destinationId", "message": "not in tenantId"}],
            )
        tenant_id = destination.tenant_id
    since = _utc(body.since)
    # The upper bound is frozen now, so deliveries created later (the replay's own) never match.
    until = _utc(body.until) if body.until is not None else store.clock()
    if until <= since:
        raise ValidationError(
            "until must be after since", details=[{"path": "until", "message": "after since"}]
        )
    return ReplayFilter(
        since=since,
        until=until,
        tenant_id=tenant_id,
        destination_id=body.destination_id,
        status=body.status.value if body.status else None,
    )


@endpoint
async def create_replay(request: Request, principal: Principal) -> Response:
    body = await parse_body(request, ReplayIn)
    flt = await _replay_filter(request, principal, body)
    store = services(request).store
    if body.dry_run:
        matched = await run(store.count_replay_matches, flt)
        return json_response(
            {"replayId": None, "matched": matched, "dryRun": True, "filters": flt.to_json()}
        )
    row = await run(store.create_replay, flt)
    return json_response(replay_out(row), 202)


async def _load(request: Request, principal: Principal) -> ReplayRecord:
    row = await run(services(request).store.get_replay, request.path_params["id"])
    if row.tenant_id is None and not principal.is_admin:  # an all-tenant job is admin-only
        raise NotFoundError(f"replay {row.id} not found")
    if row.tenant_id is not None:
        check_tenant(principal, row.tenant_id, f"replay {row.id}")
    return row


@endpoint
async def get_replay(request: Request, principal: Principal) -> Response:
    return json_response(replay_out(await _load(request, principal)))


@endpoint
async def list_replays(request: Request, principal: Principal) -> Response:
    page, size = paging(request)
    tenant_id = scope_tenant(principal, request.query_params.get("tenantId") or None)
    rows, total = await run(
        services(request).store.list_replays, tenant_id=tenant_id, page=page, page_size=size
    )
    return json_response(page_body([replay_out(r) for r in rows], page, size, total))


@endpoint
async def cancel_replay(request: Request, principal: Principal) -> Response:
    row = await _load(request, principal)
    return json_response(replay_out(await run(services(request).store.cancel_replay, row.id)))


routes = [
    Route("/integrations/replays", create_replay, methods=["POST"]),
    Route("/integrations/replays", list_replays, methods=["GET"]),
    Route("/integrations/replays/{id}", get_replay, methods=["GET"]),
    Route("/integrations/replays/{id}/cancel", cancel_replay, methods=["POST"]),
]
