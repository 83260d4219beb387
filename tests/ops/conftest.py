"""Helpers for the operations tests: seeding many deliveries fast, straight through the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.models import DestinationStatus
from gateway.settings import Settings
from gateway.store import EventIn, Store, open_store
from gateway.store.records import DestinationRecord
from gateway.store.tables import DeliveryRow
from tests.conftest import ADMIN_KEY, task_data

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
SEED_CHUNK = 1000


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    the_store = open_store(settings)
    yield the_store
    the_store.engine.dispose()


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[TestClient]:
    """The API without worker or scheduler: the tests drive the runners themselves."""
    app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        yield client


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
