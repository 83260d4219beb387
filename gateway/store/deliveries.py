"""Deliveries: the log (filters, pages), detail with attempts, replay, and test sends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select

from gateway import ids
from gateway.errors import ConflictError, NotFoundError, PayloadExpiredError
from gateway.models import DeliveryTrigger, ErrorClass
from gateway.store.base import page_bounds, row_dict
from gateway.store.events import EventVerbs
from gateway.store.rows import delivery_values, insert_deliveries
from gateway.store.tables import AttemptRow, DeliveryRow, EventRow

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_att = AttemptRow.__table__  # type: ignore[attr-defined]
_evt = EventRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeliveryFilter:
    tenant_id: str | None = None
    destination_id: str | None = None
    event_id: str | None = None
    status: str | None = None
    is_test: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    connector: str | None = None

    def where(self, query: Select[Any]) -> Select[Any]:
        for column, value in (
            (_dlv.c.tenant_id, self.tenant_id),
            (_dlv.c.destination_id, self.destination_id),
            (_dlv.c.event_id, self.event_id),
            (_dlv.c.status, self.status),
            (_dlv.c.is_test, self.is_test),
            (_dlv.c.connector, self.connector),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(_dlv.c.created_at >= self.since)
        if self.until is not None:
            query = query.where(_dlv.c.created_at < self.until)
        return query


def refuse_gone_payload(event: dict[str, Any]) -> None:
    """409 ``payload_expired`` for an event whose data retention or an erasure removed."""
    if event.get("expunged_at") is not None:
        raise PayloadExpiredError(f"event {event['id']} was erased; its payload is gone")
    if event.get("expired_at") is not None:
        raise PayloadExpiredError(f"event {event['id']} is past payload retention")


class DeliveryVerbs(EventVerbs):
    def list_deliveries(
        self, flt: DeliveryFilter, *, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        offset, limit = page_bounds(page, page_size)
        with self.read() as conn:
            total = conn.execute(flt.where(select(func.count()).select_from(_dlv))).scalar_one()
            rows = conn.execute(
                flt.where(select(_dlv)).order_by(_dlv.c.id.desc()).offset(offset).limit(limit)
            ).all()
        return [row_dict(r) for r in rows], int(total)

    def iter_deliveries(
        self, flt: DeliveryFilter, *, chunk: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every matching delivery, newest first, read in keyset chunks (CSV export)."""
        after: str | None = None
        while True:
            query = flt.where(select(_dlv))
            if after is not None:
                query = query.where(_dlv.c.id < after)
            with self.read() as conn:
                rows = conn.execute(query.order_by(_dlv.c.id.desc()).limit(chunk)).all()
            if not rows:
                return
            yield from (row_dict(r) for r in rows)
            after = rows[-1].id

    def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        with self.read() as conn:
            row = conn.execute(select(_dlv).where(_dlv.c.id == delivery_id)).first()
        if row is None:
            raise NotFoundError(f"delivery {delivery_id} not found")
        return row_dict(row)

    def attempts_for(self, delivery_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not delivery_ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(
                select(_att)
                .where(_att.c.delivery_id.in_(delivery_ids))
                .order_by(_att.c.delivery_id, _att.c.number)
            ).all()
        out: dict[str, list[dict[str, Any]]] = {d: [] for d in delivery_ids}
        for r in rows:
            attempt = row_dict(r)  # error_class is stored as its value, read back as the enum
            attempt["error_class"] = r.error_class and ErrorClass(r.error_class)
            out[r.delivery_id].append(attempt)
        return out

    def deliveries_of_event(self, event_id: str, tenant_id: str) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(
                select(_dlv)
                .where(_dlv.c.event_id == event_id, _dlv.c.tenant_id == tenant_id)
                .order_by(_dlv.c.id)
            ).all()
        return [row_dict(r) for r in rows]

    def replay_delivery(self, delivery_id: str) -> dict[str, Any]:
        """A new delivery of the same event to the same destination, linked by ``replay_of``."""
        original = self.get_delivery(delivery_id)
        refuse_gone_payload(self.get_event(original["event_id"]))
        destination = self.get_destination(original["destination_id"], include_deleted=True)
        if destination["deleted_at"] is not None:
            raise ConflictError(
                f"destination {destination['id']} was deleted; nothing to replay to"
            )
        now = self.clock()
        row = delivery_values(
            event_id=original["event_id"],
            tenant_id=original["tenant_id"],
            event_type=original["event_type"],
            destination=destination,
            now=now,
            trigger=DeliveryTrigger.REPLAY,
            is_test=original["is_test"],
            replay_of=delivery_id,
        )
        with self.tx() as conn:
            insert_deliveries(conn, [row], now)
        return self.get_delivery(row["id"])

    def create_test_delivery(
        self, destination: dict[str, Any], event_type: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a test event (never fanned out) and one ``isTest`` delivery of it."""
        now = self.clock()
        event_id = ids.new_id(ids.EVENT)
        row = delivery_values(
            event_id=event_id,
            tenant_id=destination["tenant_id"],
            event_type=event_type,
            destination=destination,
            now=now,
            trigger=DeliveryTrigger.TEST,
            is_test=True,
        )
        with self.tx() as conn:
            conn.execute(
                insert(_evt).values(
                    id=event_id,
                    tenant_id=destination["tenant_id"],
                    type=event_type,
                    data=data,
                    origin="test",
                    created_at=now,
                )
            )
            insert_deliveries(conn, [row], now)
        return self.get_delivery(row["id"])
