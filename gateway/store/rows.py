"""New delivery rows: their values and their bulk insert with the first change rows.

Shared by intake's fan-out (``events.py``), replays, test sends and operational events; it
depends on no verb class, so any of them can use it without an import cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from gateway import ids
from gateway.models import DeliveryStatus, DeliveryTrigger
from gateway.store import dialect
from gateway.store.notify import notify_due
from gateway.store.records import Target
from gateway.store.tables import deliveries as _dlv


def delivery_values(
    *,
    event_id: str,
    tenant_id: str,
    event_type: str,
    destination: Target,
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
        "destination_id": destination.id,
        "connector": destination.connector,
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


# The columns that differ from one new delivery to the next; the others are the same for all
# (``pending``, no attempt yet, due ``now``) and are bound once.
VARYING = (
    "id",
    "tenant_id",
    "event_id",
    "event_type",
    "destination_id",
    "connector",
    "is_test",
    "trigger",
    "replay_of",
    "replay_id",
)
_PG_TYPES = {"is_test": "BOOLEAN[]"}  # the rest are TEXT[]


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert new deliveries (made by ``delivery_values`` with this ``now``) and their first
    change rows (``pending``); see ``insert_delivery_columns``."""
    if rows:
        insert_delivery_columns(conn, {c: [r[c] for r in rows] for c in VARYING}, now)


def insert_delivery_columns(conn: Connection, columns: dict[str, list[Any]], now: datetime) -> None:
    """New ``pending`` deliveries due ``now``, given column-wise (each of ``VARYING`` a list,
    all of one length), and their first change rows: two set-based statements whatever the count
    (10,000 for an event fanned out to 10,000 destinations). A column with one value throughout
    (the event, the tenant, the trigger of a fan-out) is bound once; the others pass as one
    array each. The change rows follow the deliveries' order, so their ``seq`` follows the ids."""
    count = len(columns["id"])
    if not count:
        return
    notify_due(conn)  # every process's workers are woken when this transaction commits
    varying = ["id"] + [
        c for c in VARYING[1:] if columns[c].count(columns[c][0]) != count
    ]  # ``id`` always: it gives the source its rows
    source, params = dialect.rows_source(conn, columns, varying, _PG_TYPES)
    now_bind = bindparam("now", type_=_dlv.c.created_at.type)
    binds = [now_bind]
    picked = {}
    for c in VARYING:
        if c in varying:
            picked[c] = f'r."{c}"'
        else:
            picked[c] = f":c_{c}"
            params[f"c_{c}"] = columns[c][0]
            binds.append(bindparam(f"c_{c}", type_=_dlv.c[c].type))
    params["now"] = now
    pending = DeliveryStatus.PENDING.value
    names = ", ".join(f'"{c}"' for c in VARYING)  # quoted: ``trigger`` is a keyword
    conn.execute(
        text(
            f"INSERT INTO deliveries ({names}, status, attempt_count, next_attempt_at, "
            f"created_at, updated_at) SELECT {', '.join(picked.values())}, '{pending}', 0, "
            f":now, :now, :now FROM {source}"
        ).bindparams(*binds),
        params,
    )
    conn.execute(
        text(
            "INSERT INTO delivery_changes (delivery_id, tenant_id, destination_id, status, "
            f"attempt_count, at) SELECT {picked['id']}, {picked['tenant_id']}, "
            f"{picked['destination_id']}, '{pending}', 0, :now FROM {source}"
        ).bindparams(now_bind),  # the other constants here are strings: no type to apply
        params,
    )
