"""Destination stats for the dashboard: success rate and latency over time, and summaries.

- ``GET /integrations/destinations/{id}/stats?since=&until=&bucket=`` → a time series of attempt
  buckets (``bucket`` seconds; by default the window in at most 48 buckets)
- ``GET /integrations/stats/destinations?ids=a,b`` → per destination over the last 24 h (or
  ``since``): attempts, success rate, mean latency, the last error
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.auth import check_tenant, endpoint
from gateway.api.common import run, services
from gateway.api.parsing import query_int, query_time
from gateway.api.responses import json_response
from gateway.errors import ValidationError
from gateway.models import iso
from gateway.store import Principal
from gateway.store.records import DestinationSummary

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)
MAX_BUCKETS = 500
TARGET_BUCKETS = 48
NICE_BUCKETS_SECONDS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_SUMMARY_IDS = 100


def _rate(succeeded: int, attempts: int) -> float | None:
    return round(succeeded / attempts, 4) if attempts else None


def _bucket_for(window: timedelta) -> int:
    for size in NICE_BUCKETS_SECONDS:
        if window.total_seconds() / size <= TARGET_BUCKETS:
            return size
    return NICE_BUCKETS_SECONDS[-1]


def _window(request: Request, now: datetime) -> tuple[datetime, datetime, int]:
    until = query_time(request, "until") or now
    since = query_time(request, "since") or until - DEFAULT_WINDOW
    if not since < until or until - since > MAX_WINDOW:
        raise ValidationError(
            "since must be before until, at most 31 days apart",
            details=[{"path": "since", "message": "window of 1 s to 31 days"}],
        )
    bucket = query_int(request, "bucket", _bucket_for(until - since), 60, 7 * 86400)
    start = int(since.timestamp()) // bucket * bucket  # align buckets to whole multiples
    since = datetime.fromtimestamp(start, tz=since.tzinfo)
    if (until - since).total_seconds() / bucket > MAX_BUCKETS:
        raise ValidationError(
            f"at most {MAX_BUCKETS} buckets",
            details=[{"path": "bucket", "message": "too small for the window"}],
        )
    return since, until, bucket


@endpoint
async def destination_stats(request: Request, principal: Principal) -> Response:
    store = services(request).store
    row = await run(store.get_destination, request.path_params["id"], include_deleted=True)
    check_tenant(principal, row.tenant_id, f"destination {row.id}")
    since, until, bucket = _window(request, store.clock())
    series = await run(
        store.destination_series, row.id, since=since, until=until, bucket_seconds=bucket
    )
    summary = (await run(store.destination_summaries, [row.id], since=since))[row.id]
    points: list[dict[str, Any]] = [
        {
            "at": iso(since + timedelta(seconds=p.bucket * bucket)),
            "attempts": p.attempts,
            "succeeded": p.succeeded,
            "failed": p.attempts - p.succeeded,
            "successRate": _rate(p.succeeded, p.attempts),
            "latencyMsAvg": round(p.latency_ms_avg, 2),
            "latencyMsMax": round(p.latency_ms_max, 2),
        }
        for p in series
    ]
    return json_response(
        {
            "destinationId": row.id,
            "since": iso(since),
            "until": iso(until),
            "bucketSeconds": bucket,
            "summary": summary_out(row.id, summary),
            "series": points,
        }
    )


def summary_out(destination_id: str, s: DestinationSummary) -> dict[str, Any]:
    return {
        "destinationId": destination_id,
        "attempts": s.attempts,
        "succeeded": s.succeeded,
        "failed": s.attempts - s.succeeded,
        "successRate": _rate(s.succeeded, s.attempts),
        "latencyMsAvg": None if s.latency_ms_avg is None else round(s.latency_ms_avg, 2),
        "lastAttemptAt": iso(s.last_attempt_at) if s.last_attempt_at else None,
        "lastError": s.last_error,
        "lastStatusCode": s.last_status_code,
        "lastErrorAt": iso(s.last_error_at) if s.last_error_at else None,
    }


@endpoint
async def destination_summaries(request: Request, principal: Principal) -> Response:
    store = services(request).store
    raw = request.query_params.get("ids") or ""
    wanted = [i for i in dict.fromkeys(raw.split(",")) if i]
    if not 1 <= len(wanted) <= MAX_SUMMARY_IDS:
        raise ValidationError(
            f"ids must name 1 to {MAX_SUMMARY_IDS} destinations",
            details=[{"path": "ids", "message": "comma-separated ids"}],
        )
    rows = await run(store.destinations_by_ids, wanted)
    visible = [i for i in wanted if i in rows and principal.can_see(rows[i].tenant_id)]
    since = query_time(request, "since") or store.clock() - DEFAULT_WINDOW
    summaries = await run(store.destination_summaries, visible, since=since)
    items = [summary_out(i, summaries[i]) for i in visible]
    return json_response({"items": items, "since": iso(since)})


routes = [
    Route("/integrations/destinations/{id}/stats", destination_stats, methods=["GET"]),
    Route("/integrations/stats/destinations", destination_summaries, methods=["GET"]),
]
