"""Events: idempotent intake and fan-out to deliveries, in one transaction (a 202 is on disk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from gateway import ids
from gateway.errors import NotFoundError
from gateway.fanout import filter_matches, subscribes
from gateway.models import DeliveryStatus, DeliveryTrigger
from gateway.store.base import insert_ignore, row_dict
from gateway.store.destinations import DestinationVerbs
from gateway.store.tables import DeliveryChangeRow, DeliveryRow, EventRow

_evt = EventRow.__table__  # type: ignore[attr-defined]
_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_chg = DeliveryChangeRow.__table__  # type: ignore[attr-defined]

INSERT_CHUNK = 500  # rows per multi-VALUES statement (well under SQLite's variable limit)


@dataclass
class EventIn:
    tenant_id: str
    type: str
    data: dict[str, Any]
    id: str | None = None
    origin: str = "api"


@dataclass
class IntakeResult:
    event_id: str
    status: str  # created | duplicate
    delivery_ids: list[str] = field(default_factory=list)


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
    """Bulk-insert deliveries and their first change rows (``pending``)."""
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        conn.execute(insert(_dlv), chunk)
        conn.execute(
            insert(_chg),
            [
                {
                    "delivery_id": r["id"],
                    "tenant_id": r["tenant_id"],
                    "destination_id": r["destination_id"],
                    "status": r["status"],
                    "attempt_count": 0,
                    "at": now,
                }
                for r in chunk
            ],
        )


class EventVerbs(DestinationVerbs):
    def ingest_events(self, items: list[EventIn]) -> list[IntakeResult]:
        """Store new events once and fan each out; duplicates (same id) change nothing."""
        now = self.clock()
        for item in items:
            item.id = item.id or ids.new_id(ids.EVENT)
        results = [IntakeResult(event_id=str(item.id), status="duplicate") for item in items]
        with self.tx() as conn:
            first_seen: dict[str, int] = {}
            for index, item in enumerate(items):
                first_seen.setdefault(str(item.id), index)
            fresh = [items[i] for i in first_seen.values()]
            inserted: set[str] = set()
            for start in range(0, len(fresh), INSERT_CHUNK):
                chunk = fresh[start : start + INSERT_CHUNK]
                stmt = (
                    insert_ignore(conn, _evt)
                    .values(
                        [
                            {
                                "id": e.id,
                                "tenant_id": e.tenant_id,
                                "type": e.type,
                                "data": e.data,
                                "origin": e.origin,
                                "created_at": now,
                            }
                            for e in chunk
                        ]
                    )
                    .returning(_evt.c.id)
                )
                inserted.update(conn.execute(stmt).scalars())
            created = [e for e in fresh if e.id in inserted]
            deliveries = self._fan_out(conn, created, now)
            by_event: dict[str, list[str]] = {}
            for d in deliveries:
                by_event.setdefault(d["event_id"], []).append(d["id"])
            dup_ids = [e.id for e in items if e.id not in inserted]
            existing = self._event_delivery_ids(conn, [str(i) for i in dup_ids])
            owners: dict[str, str] = (
                dict(
                    conn.execute(
                        select(_evt.c.id, _evt.c.tenant_id).where(_evt.c.id.in_(dup_ids))
                    ).all()
                )
                if dup_ids
                else {}
            )
        for index, item in enumerate(items):
            result = results[index]
            first = items[first_seen[str(item.id)]]
            if first.tenant_id != item.tenant_id:
                result.status = "conflict"  # the same id twice in one batch, two tenants
            elif item.id in inserted and first_seen[str(item.id)] == index:
                result.status = "created"
                result.delivery_ids = by_event.get(str(item.id), [])
            elif owners.get(str(item.id), item.tenant_id) != item.tenant_id:
                result.status = "conflict"  # the id belongs to another tenant's event
            else:
                result.delivery_ids = existing.get(str(item.id), by_event.get(str(item.id), []))
        return results

    def _fan_out(
        self, conn: Connection, events: list[EventIn], now: datetime
    ) -> list[dict[str, Any]]:
        if not events:
            return []
        destinations = self.subscribed_destinations(conn, {e.tenant_id for e in events})
        rows = []
        for event in events:
            for dst in destinations:
                if (
                    dst["tenant_id"] == event.tenant_id
                    and subscribes(dst["event_types"], event.type)
                    and filter_matches(dst["filter"], event.data)
                ):
                    rows.append(
                        delivery_values(
                            event_id=str(event.id),
                            tenant_id=event.tenant_id,
                            event_type=event.type,
                            destination=dst,
                            now=now,
                        )
                    )
        insert_deliveries(conn, rows, now)
        return rows

    def _event_delivery_ids(self, conn: Connection, event_ids: list[str]) -> dict[str, list[str]]:
        if not event_ids:
            return {}
        rows = conn.execute(
            select(_dlv.c.event_id, _dlv.c.id)
            .where(_dlv.c.event_id.in_(event_ids), _dlv.c.trigger == DeliveryTrigger.EVENT.value)
            .order_by(_dlv.c.id)
        ).all()
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.event_id, []).append(r.id)
        return out

    def get_event(self, event_id: str) -> dict[str, Any]:
        with self.read() as conn:
            row = conn.execute(select(_evt).where(_evt.c.id == event_id)).first()
        if row is None:
            raise NotFoundError(f"event {event_id} not found")
        return row_dict(row)

    def events_by_ids(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not event_ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(select(_evt).where(_evt.c.id.in_(event_ids))).all()
        return {r.id: row_dict(r) for r in rows}

    def recent_events(
        self,
        *,
        tenant_id: str,
        event_type: str,
        limit: int,
        since: datetime | None = None,
        include_test: bool = False,
    ) -> list[dict[str, Any]]:
        """Newest first (polling triggers and samples)."""
        cond = [
            _evt.c.tenant_id == tenant_id,
            _evt.c.type == event_type,
            _evt.c.expired_at.is_(None),
            _evt.c.expunged_at.is_(None),
        ]
        if since is not None:
            cond.append(_evt.c.created_at > since)
        if not include_test:
            cond.append(_evt.c.origin != "test")
        with self.read() as conn:
            rows = conn.execute(
                select(_evt)
                .where(*cond)
                .order_by(_evt.c.created_at.desc(), _evt.c.id.desc())
                .limit(limit)
            ).all()
        return [row_dict(r) for r in rows]
