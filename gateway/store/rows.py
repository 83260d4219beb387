"""New delivery rows: the fan-out of new events, their values and their bulk insert with the
first change rows.

Shared by intake (``events.py``), operational events, replays and test sends; it depends on no
verb class, so any of them can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Text, bindparam, cast, select, text

from gateway import ids
from gateway.fanout import filter_matches, subscribes
from gateway.models import DeliveryStatus, DeliveryTrigger
from gateway.store import dialect
from gateway.store.notify import notify_due
from gateway.store.records import Target
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destinations as _dst

# A new event, as fan-out reads it: (id, tenant id, type, data).
NewEvent = tuple[str, str, str, dict[str, Any]]


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


def fan_out(
    conn: Connection, events: list[NewEvent], now: datetime
) -> dict[tuple[str, str], list[str]]:
    """One delivery per (event, matching destination of its tenant), inserted set-based and
    built column-wise (no per-delivery dict); the delivery ids of each ``(event id, tenant id)``,
    in destination id order."""
    if not events:
        return {}
    audiences = _audiences(conn, {e[1] for e in events})
    columns: dict[str, list[Any]] = {c: [] for c in VARYING}
    by_event: dict[tuple[str, str], list[str]] = {}
    for event_id, tenant_id, event_type, data in events:
        dst_ids, connectors = _matching(audiences.get(tenant_id, ()), event_type, data)
        n = len(dst_ids)
        if not n:
            continue
        delivery_ids = ids.new_ids(ids.DELIVERY, n)
        by_event[(event_id, tenant_id)] = delivery_ids
        columns["id"] += delivery_ids
        columns["destination_id"] += dst_ids
        columns["connector"] += connectors
        for name, value in (
            ("tenant_id", tenant_id),
            ("event_id", event_id),
            ("event_type", event_type),
            ("is_test", False),
            ("trigger", DeliveryTrigger.EVENT.value),
            ("replay_of", None),
            ("replay_id", None),
        ):
            columns[name] += [value] * n
    insert_delivery_columns(conn, columns, now)
    return by_event


@dataclass
class _Audience:
    """Destinations of one tenant that share their ``event_types`` and ``filter`` (10,000
    destinations usually share a handful): the match is evaluated once per event for all."""

    event_types: tuple[str, ...]
    filter: dict[str, Any] | None
    ids: list[str] = field(default_factory=list)  # destination ids, ascending
    connectors: list[str] = field(default_factory=list)  # each destination's, in that order

    def wants(self, event_type: str, data: dict[str, Any]) -> bool:
        return subscribes(self.event_types, event_type) and filter_matches(self.filter, data)


def _audiences(conn: Connection, tenant_ids: set[str]) -> dict[str, list[_Audience]]:
    """Every non-deleted destination of these tenants, by tenant and by (event types, filter),
    in id order. The JSON columns are read as text and decoded once per distinct value."""
    rows = conn.execute(
        select(
            _dst.c.id,
            _dst.c.tenant_id,
            _dst.c.connector,
            cast(_dst.c.event_types, Text),
            cast(_dst.c.filter, Text),
        )
        .where(_dst.c.tenant_id.in_(sorted(tenant_ids)), _dst.c.deleted_at.is_(None))
        .order_by(_dst.c.id)
    ).all()
    groups: dict[tuple[str, str, str | None], _Audience] = {}
    for dst_id, tenant_id, connector, types_text, filter_text in rows:
        key = (tenant_id, types_text, filter_text)
        audience = groups.get(key)
        if audience is None:
            decoded = orjson.loads(filter_text) if filter_text is not None else None
            audience = _Audience(tuple(orjson.loads(types_text)), decoded)
            groups[key] = audience
        audience.ids.append(dst_id)
        audience.connectors.append(connector)
    out: dict[str, list[_Audience]] = {}
    for (tenant_id, _, _), audience in groups.items():
        out.setdefault(tenant_id, []).append(audience)
    return out


def _matching(
    audiences: Iterable[_Audience], event_type: str, data: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """(destination ids, their connectors) of the audiences an event matches, by id."""
    chosen = [a for a in audiences if a.wants(event_type, data)]
    if len(chosen) == 1:
        return chosen[0].ids, chosen[0].connectors
    pairs = sorted(p for a in chosen for p in zip(a.ids, a.connectors, strict=True))
    return [p[0] for p in pairs], [p[1] for p in pairs]


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
