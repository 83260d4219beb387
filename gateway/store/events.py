"""Events: idempotent intake and fan-out to deliveries, in one transaction (a 202 is on disk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, select

from gateway import ids
from gateway.errors import NotFoundError, ValidationError
from gateway.fanout import filter_matches, subscribes
from gateway.models import DeliveryTrigger
from gateway.store.base import insert_ignore, row_dict
from gateway.store.destinations import DestinationVerbs
from gateway.store.rows import delivery_values, insert_deliveries
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


def events_by_key(
    conn: Connection, keys: set[tuple[str, str]], *, data_as_text: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Events by ``(event id, tenant id)`` (ids are scoped to a tenant), in ``conn``;
    ``data_as_text`` reads ``data`` as its stored JSON text, not decoded (the delivery path
    splices it into the envelope as is)."""
    if not keys:
        return {}
    columns = [
        cast(c, Text).label("data") if data_as_text and c.name == "data" else c for c in _evt.c
    ]
    rows = conn.execute(
        select(*columns).where(
            _evt.c.id.in_(sorted({k[0] for k in keys})),
            _evt.c.tenant_id.in_(sorted({k[1] for k in keys})),
        )
    ).all()
    return {(r.id, r.tenant_id): row_dict(r) for r in rows if (r.id, r.tenant_id) in keys}


class EventVerbs(DestinationVerbs):
    def ingest_events(self, items: list[EventIn]) -> list[IntakeResult]:
        """Store new events once and fan each out; duplicates change nothing.

        An event's id is scoped to its tenant (the key is ``(id, tenant_id)``): the same id from two
        tenants is two events, and neither learns that the other exists."""
        now = self.clock()
        for item in items:
            item.id = item.id or ids.new_id(ids.EVENT)
        keys = [(str(item.id), item.tenant_id) for item in items]
        results = [IntakeResult(event_id=key[0], status="duplicate") for key in keys]
        with self.tx() as conn:
            first_seen: dict[tuple[str, str], int] = {}
            for index, key in enumerate(keys):
                first_seen.setdefault(key, index)
            fresh = [items[i] for i in first_seen.values()]
            inserted: set[tuple[str, str]] = set()
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
                    .returning(_evt.c.id, _evt.c.tenant_id)
                )
                inserted.update((r.id, r.tenant_id) for r in conn.execute(stmt))
            created = [e for e in fresh if (str(e.id), e.tenant_id) in inserted]
            deliveries = self._fan_out(conn, created, now)
            by_event: dict[tuple[str, str], list[str]] = {}
            for d in deliveries:
                by_event.setdefault((d["event_id"], d["tenant_id"]), []).append(d["id"])
            existing = self._event_delivery_ids(conn, [k for k in keys if k not in inserted])
        for index, key in enumerate(keys):
            result = results[index]
            if key in inserted and first_seen[key] == index:
                result.status = "created"
                result.delivery_ids = by_event.get(key, [])
            else:
                result.delivery_ids = existing.get(key, by_event.get(key, []))
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

    def _event_delivery_ids(
        self, conn: Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        """The event-triggered deliveries of each ``(event id, tenant id)``."""
        if not keys:
            return {}
        wanted = set(keys)
        rows = conn.execute(
            select(_dlv.c.event_id, _dlv.c.tenant_id, _dlv.c.id)
            .where(
                _dlv.c.event_id.in_({k[0] for k in wanted}),
                _dlv.c.tenant_id.in_({k[1] for k in wanted}),
                _dlv.c.trigger == DeliveryTrigger.EVENT.value,
            )
            .order_by(_dlv.c.id)
        ).all()
        out: dict[tuple[str, str], list[str]] = {}
        for r in rows:
            if (r.event_id, r.tenant_id) in wanted:
                out.setdefault((r.event_id, r.tenant_id), []).append(r.id)
        return out

    def get_event(self, event_id: str, tenant_id: str | None = None) -> dict[str, Any]:
        """The event ``event_id`` of ``tenant_id``. Without a tenant (an admin looking), the one
        event with that id; when several tenants use the id, ``tenantId`` must say which."""
        cond = [_evt.c.id == event_id]
        if tenant_id is not None:
            cond.append(_evt.c.tenant_id == tenant_id)
        with self.read() as conn:
            rows = conn.execute(select(_evt).where(*cond).limit(2)).all()
        if not rows:
            raise NotFoundError(f"event {event_id} not found")
        if len(rows) > 1:
            raise ValidationError(
                f"several tenants have an event {event_id}: say which with tenantId",
                details=[{"path": "tenantId", "message": "required for this id"}],
            )
        return row_dict(rows[0])

    def event_exists(self, event_id: str, tenant_id: str | None) -> bool:
        cond = [_evt.c.id == event_id]
        if tenant_id is not None:
            cond.append(_evt.c.tenant_id == tenant_id)
        with self.read() as conn:
            return conn.execute(select(_evt.c.id).where(*cond).limit(1)).first() is not None

    def events_by_ids(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Events by ``(event id, tenant id)``."""
        if not keys:
            return {}
        with self.read() as conn:
            return events_by_key(conn, set(keys))

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
