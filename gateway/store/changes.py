"""Every delivery status change, with its change row: the one way a delivery moves.

``delivery_changes`` is what the SSE stream and the stats read; a status written without its change
row would be invisible to both. So nothing updates ``deliveries.status`` but these two verbs (and
``rows.insert_delivery_columns``, which writes each new delivery's first ``pending`` change row in
the same set-based statement pair):

- ``move_where``: a set-based move (claim, lease recovery, cancel, release of a destination);
- ``move_each``: per-delivery values (recording attempts, handing claimed deliveries back).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update

from gateway.models import DeliveryStatus
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import delivery_changes as _chg

RETURNED = (_dlv.c.id, _dlv.c.tenant_id, _dlv.c.destination_id, _dlv.c.attempt_count)


@dataclass(frozen=True)
class Move:
    """One delivery to one status, with the other columns that change with it."""

    delivery_id: str
    tenant_id: str
    destination_id: str
    status: DeliveryStatus
    attempt_count: int
    values: dict[str, Any] = field(default_factory=dict)


def append_changes(conn: Connection, rows: Iterable[dict[str, Any]], now: datetime) -> None:
    """Change rows for deliveries already written (``delivery_id, tenant_id, destination_id,
    status, attempt_count`` each)."""
    items = [
        {
            "delivery_id": r["delivery_id"],
            "tenant_id": r["tenant_id"],
            "destination_id": r["destination_id"],
            "status": r["status"],
            "attempt_count": r["attempt_count"],
            "at": now,
        }
        for r in rows
    ]
    if items:
        conn.execute(insert(_chg), items)


def move_where(
    conn: Connection,
    where: Sequence[Any],
    status: DeliveryStatus,
    now: datetime,
    **values: Any,
) -> list[Any]:
    """``UPDATE deliveries SET status = …`` for every row matching ``where``; returns the moved
    rows (``id, tenant_id, destination_id, attempt_count`` and any extra ``returning``)."""
    extra = values.pop("returning", ())
    rows = conn.execute(
        update(_dlv)
        .where(*where)
        .values(status=status.value, updated_at=now, **values)
        .returning(*RETURNED, *extra)
    ).all()
    append_changes(
        conn,
        (
            {
                "delivery_id": r.id,
                "tenant_id": r.tenant_id,
                "destination_id": r.destination_id,
                "status": status.value,
                "attempt_count": r.attempt_count,
            }
            for r in rows
        ),
        now,
    )
    return list(rows)


def move_each(conn: Connection, moves: Sequence[Move], now: datetime) -> None:
    """Per-delivery moves (the caller holds these rows: claimed or locked in this transaction)."""
    groups: dict[tuple[str, ...], list[Move]] = defaultdict(list)
    for m in moves:
        groups[tuple(sorted(m.values))].append(m)
    for keys, group in groups.items():
        conn.execute(
            update(_dlv)
            .where(_dlv.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                updated_at=now,
                **{k: bindparam(f"b_{k}") for k in keys},
            ),
            [
                {
                    "b_id": m.delivery_id,
                    "b_status": m.status.value,
                    **{f"b_{k}": m.values[k] for k in keys},
                }
                for m in group
            ],
        )
    append_changes(
        conn,
        (
            {
                "delivery_id": m.delivery_id,
                "tenant_id": m.tenant_id,
                "destination_id": m.destination_id,
                "status": m.status.value,
                "attempt_count": m.attempt_count,
            }
            for m in moves
        ),
        now,
    )
