"""``GET /integrations/deliveries.csv``: the delivery log as CSV, same filters as the list.

Streamed in keyset chunks (constant memory for any size). Safe to open in a spreadsheet: a text
cell that a spreadsheet would read as a formula (starting ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return, or their full-width forms) is prefixed with ``'`` (OWASP "CSV Injection").
Numbers stay numbers. UTF-8 with a byte-order mark, so Excel reads non-ASCII text right.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.api.auth import endpoint
from gateway.api.common import services
from gateway.api.deliveries import visible_filter
from gateway.models import iso
from gateway.store import Principal
from gateway.store.records import DeliveryRecord

CHUNK_ROWS = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# (CSV header, delivery row key): the API list's fields, in the list's order (newest first).
COLUMNS = (
    ("id", "id"),
    ("createdAt", "created_at"),
    ("tenantId", "tenant_id"),
    ("eventId", "event_id"),
    ("eventType", "event_type"),
    ("destinationId", "destination_id"),
    ("connector", "connector"),
    ("status", "status"),
    ("attemptCount", "attempt_count"),
    ("lastStatusCode", "last_status_code"),
    ("lastError", "last_error"),
    ("nextAttemptAt", "next_attempt_at"),
    ("completedAt", "completed_at"),
    ("updatedAt", "updated_at"),
    ("isTest", "is_test"),
    ("trigger", "trigger"),
    ("replayOf", "replay_of"),
    ("replayId", "replay_id"),
)


def safe_cell(value: Any) -> str | int | float:
    """One CSV cell: times as ISO 8601, booleans as true/false, formula-like text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = iso(value) if isinstance(value, datetime) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_lines(rows: list[DeliveryRecord], header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow([name for name, _ in COLUMNS])
    writer.writerows([safe_cell(getattr(row, key)) for _, key in COLUMNS] for row in rows)
    return out.getvalue()


@endpoint
async def export_deliveries(request: Request, principal: Principal) -> Response:
    store = services(request).store
    flt = await visible_filter(request, principal)
    rows: Iterator[DeliveryRecord] = store.iter_deliveries(flt, chunk=CHUNK_ROWS)

    async def body() -> AsyncIterator[bytes]:
        yield ("\ufeff" + csv_lines([], header=True)).encode()
        while True:
            chunk = await asyncio.to_thread(lambda: list(islice(rows, CHUNK_ROWS)))
            if not chunk:
                return
            yield csv_lines(chunk).encode()

    stamp = store.clock().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="deliveries-{stamp}.csv"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


routes = [Route("/integrations/deliveries.csv", export_deliveries, methods=["GET"])]
