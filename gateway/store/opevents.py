"""Operational events in the store: each transition's notice becomes an ordinary event.

``emit_notices`` runs inside the caller's transaction (the one that moved the destination or the
delivery), stores one event per notice (origin ``gateway``) and fans it out to the tenant's
destinations that subscribe to it, exactly like intake does. The transition helpers below guard
each transition in SQL so only the transaction that made it yields its notice (see
``gateway/opevents.py`` for the rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from gateway import ids, opevents
from gateway.models import DeliveryStatus, DestinationStatus
from gateway.opevents import Notice
from gateway.store.base import StoreBase
from gateway.store.records import (
    DeliveryRecord,
    EventRecord,
    SubjectRecord,
)
from gateway.store.rows import fan_out
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import destinations as _dst
from gateway.store.tables import events as _evt

OPERATIONAL_ORIGIN = "gateway"
_SUBJECT = (_dst.c.id, _dst.c.tenant_id, _dst.c.name)


def emit_notices(conn: Connection, notices: list[Notice], now: datetime) -> list[str]:
    """Store and fan out one event per notice (in ``conn``'s transaction); returns event ids.

    Every notice is logged on ``gateway.ops``; a notice about a destination that subscribes to
    operational events only is logged but not emitted (CONTRACT §2: no loops).
    """
    if not notices:
        return []
    subjects: dict[str, list[str]] = dict(
        conn.execute(
            select(_dst.c.id, _dst.c.event_types).where(
                _dst.c.id.in_({n.destination_id for n in notices})
            )
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for notice in notices:
        loop = opevents.subscribes_to_operational_only(subjects.get(notice.destination_id) or [])
        event_id = None if loop else ids.new_id(ids.EVENT)
        opevents.log_notice(notice, event_id=event_id)
        if event_id is not None:
            rows.append(
                {
                    "id": event_id,
                    "tenant_id": notice.tenant_id,
                    "type": notice.type.value,
                    "data": notice.data,
                    "origin": OPERATIONAL_ORIGIN,
                    "created_at": now,
                }
            )
    if rows:
        conn.execute(insert(_evt), rows)
        fan_out(conn, [(r["id"], r["tenant_id"], r["type"], r["data"]) for r in rows], now)
    return [r["id"] for r in rows]


def subject(row: Any) -> SubjectRecord:
    """The subject of a row that selected ``_SUBJECT`` (and maybe more)."""
    return SubjectRecord(id=row.id, tenant_id=row.tenant_id, name=row.name)


# -- transitions at the worker's write (gateway/store/claim.py) ---------------------------------
def end_streaks(conn: Connection, destination_ids: set[str], now: datetime) -> list[Notice]:
    """A success ends each destination's failure streak; after a failing notice it recovered."""
    if not destination_ids:
        return []
    alerted = conn.execute(
        select(*_SUBJECT).where(_dst.c.id.in_(destination_ids), _dst.c.failing_alerted > 0)
    ).all()
    notices = []
    for row in alerted:  # guarded one by one: only the transaction that resets it says so
        moved = conn.execute(
            update(_dst)
            .where(_dst.c.id == row.id, _dst.c.failing_alerted > 0)
            .values(failing_since=None, failing_alerted=0)
        ).rowcount
        if moved:
            notices.append(opevents.recovered(subject(row), how="success", at=now))
    conn.execute(
        update(_dst)
        .where(_dst.c.id.in_(destination_ids), _dst.c.failing_since.is_not(None))
        .values(failing_since=None, failing_alerted=0)
    )
    return notices


def disable_notices(rows: Sequence[Any], now: datetime) -> list[Notice]:
    """Notices for ``UPDATE … WHERE status = 'active' RETURNING id, tenant_id, name, reason``."""
    return [opevents.disabled(subject(r), reason=r.disabled_reason, at=now) for r in rows]


def exhausted_notices(conn: Connection, delivery_ids: list[str], now: datetime) -> list[Notice]:
    """Deliveries that just became ``failed`` (test sends and operational events excepted)."""
    if not delivery_ids:
        return []
    rows = conn.execute(
        select(_dlv, _dst.c.name)
        .select_from(_dlv.join(_dst, _dst.c.id == _dlv.c.destination_id))
        .where(_dlv.c.id.in_(delivery_ids), _dlv.c.status == DeliveryStatus.FAILED.value)
        .where(_dlv.c.is_test.is_(False))
    ).all()
    return [
        opevents.exhausted(
            SubjectRecord(id=r.destination_id, tenant_id=r.tenant_id, name=r.name),
            DeliveryRecord(**{k: v for k, v in r._mapping.items() if k != "name"}),
            at=now,
        )
        for r in rows
        if not opevents.is_operational(r.event_type)
    ]


# -- transitions at an operator's enable/disable (gateway/store/destinations.py) ----------------
def status_change_notices(
    conn: Connection, destination_id: str, status: DestinationStatus, reason: str, now: datetime
) -> list[Notice]:
    """Read (and lock) the destination before its status changes: what the change announces."""
    row = conn.execute(
        select(*_SUBJECT, _dst.c.status).where(_dst.c.id == destination_id).with_for_update()
    ).first()
    if row is None or row.status == status.value:
        return []
    if status is DestinationStatus.ACTIVE:
        return [opevents.recovered(subject(row), how="enabled", at=now)]
    return [opevents.disabled(subject(row), reason=reason, at=now)]


class OpEventVerbs(StoreBase):
    def scan_failing(self, *, window: timedelta) -> list[str]:
        """Emit ``gateway.destination.failing`` for streaks past 50 % / 90 % of ``window``.

        Idempotent per tick and across processes: ``failing_alerted`` moves up only by a guarded
        update, so each threshold is emitted once per streak. Returns the new event ids.
        """
        if window.total_seconds() <= 0:
            return []
        now = self.clock()
        first = opevents.FAILING_THRESHOLDS[0] / 100
        with self.tx() as conn:
            rows = conn.execute(
                select(*_SUBJECT, _dst.c.failing_since, _dst.c.failing_alerted).where(
                    _dst.c.status == DestinationStatus.ACTIVE.value,
                    _dst.c.deleted_at.is_(None),
                    _dst.c.failing_since <= now - window * first,
                    _dst.c.failing_alerted < opevents.FAILING_THRESHOLDS[-1],
                )
            ).all()
            notices: list[Notice] = []
            for row in rows:
                due = opevents.thresholds_due(
                    failing_since=row.failing_since,
                    now=now,
                    window=window,
                    alerted=row.failing_alerted,
                )
                if not due:
                    continue
                moved = conn.execute(
                    update(_dst)
                    .where(_dst.c.id == row.id, _dst.c.failing_alerted == row.failing_alerted)
                    .where(_dst.c.failing_since == row.failing_since)
                    .values(failing_alerted=due[-1])
                ).rowcount
                if moved:
                    notices.extend(
                        opevents.failing(
                            subject(row),
                            threshold=t,
                            failing_since=row.failing_since,
                            window=window,
                        )
                        for t in due
                    )
            return emit_notices(conn, notices, now)

    def operational_events_of(
        self, tenant_id: str, destination_id: str, *, limit: int = 50, scan: int = 1000
    ) -> list[EventRecord]:
        """The newest operational events about one destination (the dashboard's list).

        Reads the tenant's newest ``scan`` operational events and keeps those about it.
        """
        with self.read() as conn:
            rows = conn.execute(
                select(_evt)
                .where(
                    _evt.c.tenant_id == tenant_id,
                    _evt.c.type.in_(sorted(opevents.OPERATIONAL_TYPES)),
                )
                .order_by(_evt.c.created_at.desc(), _evt.c.id.desc())
                .limit(scan)
            ).all()
        out = [
            EventRecord.from_row(r)
            for r in rows
            if (r.data or {}).get("destinationId") == destination_id
        ]
        return out[:limit]
