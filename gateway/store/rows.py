"""New delivery rows: their values and their bulk insert with the first change rows.

Shared by intake's fan-out (``events.py``), replays, test sends and operational events; it
depends on no verb class, so any of them can use it without an import cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from gateway import ids
from gateway.models import DeliveryStatus, DeliveryTrigger
from gateway.store.changes import append_changes
from gateway.store.notify import notify_due
from gateway.store.tables import DeliveryRow

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
INSERT_CHUNK = 500  # rows per multi-VALUES statement (well under SQLite's variable limit)


def delivery_values(
    *,
    event_id: str,
    tenant_id: str,
    event_type: str,
    destination: dict[str, Any],
    now: datetime,
    trigger: DeliveryTrigger = DeliveryTrigger.EVENT,
    is_test: bool = False,
    replay_of: str | None = None,
    replay_id: str | None = None,
    delivery_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": delivery_id or ids.new_id(ids.DELIVERY),
        "tenant_id": tenant_id,
        "event_id": event_id,
        "event_type": event_type,
        "destination_id": destination["id"],
        "connector": destination["connector"],
        "status": DeliveryStatus.PENDING.value,
        "attempt_count": 0,
        "next_attempt_at": now,
        "is_test": is_test,
        "trigger": trigger.value,
        "replay_of": replay_of,
        "replay_id": replay_id,
        "created_at": now,
        "updated_at": now,
    }


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Bulk-insert deliveries and their first change rows (``pending``); the workers of every
    process are woken when the transaction commits (``notify.py``)."""
    if rows:
        notify_due(conn)
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        conn.execute(insert(_dlv), chunk)
        append_changes(
            conn,
            (
                {
                    "delivery_id": r["id"],
                    "tenant_id": r["tenant_id"],
                    "destination_id": r["destination_id"],
                    "status": r["status"],
                    "attempt_count": 0,
                }
                for r in chunk
            ),
            now,
        )
