"""Events: idempotent intake and fan-out to deliveries, in one transaction (a 202 is on disk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, select

from gateway import ids
from gateway.errors import NotFoundError, ValidationError
from gateway.models import DeliveryTrigger, StoredEvent
from gateway.store.destinations import DestinationVerbs
from gateway.store.dialect import insert_ignore
from gateway.store.records import EventRecord
from gateway.store.rows import fan_out
from gateway.store.tables import deliveries as _dlv
from gateway.store.tables import events as _evt


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
    conn: Connection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], EventRecord]:
    """Events by ``(event id, tenant id)`` (ids are scoped to a tenant), in ``conn``."""
    rows = _event_rows(conn, keys, list(_evt.c))
    return {(r.id, r.tenant_id): EventRecord.from_row(r) for r in rows}


def stored_events_by_key(
    conn: Connection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], StoredEvent]:
    """The same events as the delivery path reads them: ``data`` as its stored JSON text, not
    decoded (the ``webhook`` envelope splices it in as is; other connectors decode it once)."""
    columns = [_evt.c.id, _evt.c.tenant_id, _evt.c.type, cast(_evt.c.data, Text), _evt.c.created_at]
    return {
        (r[0], r[1]): StoredEvent(
            id=r[0], tenant_id=r[1], type=r[2], data_json=r[3], created_at=r[4]
        )
        for r in _event_rows(conn, keys, columns)
    }


def _event_rows(conn: Connection, keys: set[tuple[str, str]], columns: list[Any]) -> list[Any]:
    if not keys:
        return []
    rows = conn.execute(
        select(*columns).where(
            _evt.c.id.in_(sorted({k[0] for k in keys})),
            _evt.c.tenant_id.in_(sorted({k[1] for k in keys})),
        )
    ).all()
    return [r for r in rows if (r[0], r[1]) in keys]


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
            if fresh:
                # One cached executemany (SQLAlchemy's insertmanyvalues batches it into
                # multi-row statements): a literal multi-VALUES insert is compiled afresh on
                # every call, which cost more than the insert itself.
                stmt = insert_ignore(conn, _evt).returning(_evt.c.id, _evt.c.tenant_id)
                values = [
                    {
                        "id": e.id,
                        "tenant_id": e.tenant_id,
                        "type": e.type,
                        "data": e.data,
                        "origin": e.origin,
                        "created_at": now,
                    }
                    for e in fresh
                ]
                inserted.update((r.id, r.tenant_id) for r in conn.execute(stmt, values))
            created = [e for e in fresh if (str(e.id), e.tenant_id) in inserted]
            by_event = fan_out(
                conn, [(str(e.id), e.tenant_id, e.type, e.data) for e in created], now
            )
            existing = self._event_delivery_ids(conn, [k for k in keys if k not in inserted])
        for index, key in enumerate(keys):
            result = results[index]
            if key in inserted and first_seen[key] == index:
                result.status = "created"
                result.delivery_ids = by_event.get(key, [])
            else:
                result.delivery_ids = existing.get(key, by_event.get(key, []))
        return results

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

    def get_event(self, event_id: str, tenant_id: str | None = None) -> EventRecord:
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
        return EventRecord.from_row(rows[0])

    def event_exists(self, event_id: str, tenant_id: str | None) -> bool:
        cond = [_evt.c.id == event_id]
        if tenant_id is not None:
            cond.append(_evt.c.tenant_id == tenant_id)
        with self.read() as conn:
            return conn.execute(select(_evt.c.id).where(*cond).limit(1)).first() is not None

    def events_by_ids(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], EventRecord]:
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
    ) -> list[EventRecord]:
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
        return [EventRecord.from_row(r) for r in rows]
