"""Seeding many deliveries fast, straight through the store (the export and replay tests)."""

from __future__ import annotations

from sqlalchemy import update

from gateway.models import DestinationStatus
from gateway.store import EventIn, Store
from gateway.store.records import DestinationRecord
from gateway.store.tables import deliveries as _dlv
from tests.conftest import task_data

SEED_CHUNK = 1000


def seed_deliveries(
    store: Store,
    count: int,
    *,
    tenant_id: str = "t1",
    status: str = "failed",
    url: str = "http://127.0.0.1:9/never",
    name: str = "seeded",
    last_error: str | None = None,
) -> DestinationRecord:
    """A disabled destination with ``count`` deliveries in ``status`` (the worker never sends them).

    Names must differ per call: the destination's filter takes only its own seeded events.
    """
    destination, _ = store.create_destination(
        {
            "tenant_id": tenant_id,
            "name": name,
            "connector": "webhook",
            "url": url,
            "event_types": ["task.completed"],
            "filter": {"seedTag": name},
        }
    )  # its events only
    store.set_destination_status(destination.id, DestinationStatus.DISABLED, "seeded")
    data = task_data(seedTag=name)
    for start in range(0, count, SEED_CHUNK):
        store.ingest_events(
            [
                EventIn(tenant_id=tenant_id, type="task.completed", data=data)
                for _ in range(min(SEED_CHUNK, count - start))
            ]
        )
    if status != "pending":
        now = store.clock()
        with store.tx() as conn:
            conn.execute(
                update(_dlv)
                .where(_dlv.c.destination_id == destination.id)
                .values(
                    status=status,
                    attempt_count=1,
                    last_status_code=500,
                    next_attempt_at=None,
                    last_error=last_error,
                    completed_at=now,
                    updated_at=now,
                )
            )
    return destination
