"""Retention: payloads go first, history later; nothing pending or sending is touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gateway.adapters import Outcome, Verdict
from gateway.app import create_app
from gateway.models import DestinationStatus
from gateway.retention import prune_once
from gateway.settings import Settings
from gateway.store import AttemptRecord, EventIn, Store, open_store
from gateway.store.records import DestinationRecord
from gateway.store.tables import AttemptRow, DeliveryChangeRow, DeliveryRow, EventRow
from tests.conftest import ADMIN_KEY, make_settings, task_data

PAYLOAD_DAYS, HISTORY_DAYS = 0.5, 2.0  # fractions of a day are allowed


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(db_url: str, tmp_path: Any) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        GATEWAY_PAYLOAD_RETENTION_DAYS=PAYLOAD_DAYS,
        GATEWAY_HISTORY_RETENTION_DAYS=HISTORY_DAYS,
    )


@pytest.fixture
def store(settings: Settings, clock: Clock) -> Iterator[Store]:
    the_store = open_store(settings)
    the_store.clock = clock  # type: ignore[method-assign]
    yield the_store
    the_store.engine.dispose()


def destination(store: Store, name: str) -> DestinationRecord:
    row, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": name,
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["task.completed"],
            "filter": {"tag": name},
        }
    )
    return row


def count(store: Store, table: Any, *where: Any) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_payload_then_history_never_pending_or_sending(
    settings: Settings, store: Store, clock: Clock
) -> None:
    done, sending, held = (destination(store, n) for n in ("done", "sending", "held"))
    store.set_destination_status(held.id, DestinationStatus.DISABLED, "held")
    events = {
        name: store.ingest_events(
            [EventIn(tenant_id="t1", type="task.completed", data=task_data(tag=name))]
        )[0]
        for name in ("done", "sending", "held")
    }
    claimed = {c.destination_id: c for c in store.claim_due(owner="w", limit=10, lease_seconds=1e6)}
    assert set(claimed) == {done.id, sending.id}
    finished = claimed[done.id]
    store.record_attempts(
        owner="w",
        records=[
            AttemptRecord(
                delivery_id=finished.id,
                tenant_id="t1",
                destination_id=done.id,
                number=1,
                started_at=clock(),
                duration_ms=3.0,
                request_url="http://127.0.0.1:9/",
                request_headers={"content-type": "application/json"},
                request_body='{"data": "the payload"}',
                response_body="thanks",
                status_code=200,
                result=Outcome(Verdict.SUCCESS),
            )
        ],
    )
    app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as api:

        def event(name: str) -> dict[str, Any]:
            return dict(api.get(f"/integrations/events/{events[name].event_id}").json())

        clock.offset = timedelta(days=PAYLOAD_DAYS) - timedelta(minutes=1)
        assert prune_once(store, settings) == 0  # nothing is old enough yet
        assert event("done")["data"]["tag"] == "done"

        clock.offset = timedelta(days=PAYLOAD_DAYS, minutes=1)
        # The settled event, and the gateway.destination.disabled that disabling "held" emitted.
        assert prune_once(store, settings) == 2
        gone = event("done")
        assert gone["data"] is None and gone["expired"] is True
        [attempt] = gone["deliveries"][0]["attempts"]
        assert attempt["requestBody"] is None and attempt["responseBody"] is None
        assert attempt["statusCode"] == 200 and attempt["durationMs"] == 3.0  # timings stay
        assert event("sending")["data"]["tag"] == "sending"  # sending: untouched
        assert event("held")["data"]["tag"] == "held"  # pending: untouched
        replay = api.post(f"/integrations/deliveries/{finished.id}/replay")
        assert replay.status_code == 409
        assert replay.json()["error"]["code"] == "payload_expired"
        bulk = api.post(
            "/integrations/replays",
            json={"destinationId": done.id, "since": "2000-01-01T00:00:00Z", "dryRun": True},
        ).json()
        assert bulk["matched"] == 0  # a bulk replay skips expired events too
        assert prune_once(store, settings) == 0  # idempotent: the next tick finds nothing

        clock.offset = timedelta(days=HISTORY_DAYS, minutes=1)
        assert prune_once(store, settings) > 0
        assert api.get(f"/integrations/events/{events['done'].event_id}").status_code == 404
        assert api.get(f"/integrations/deliveries/{finished.id}").status_code == 404
        assert count(store, AttemptRow.__table__) == 0  # type: ignore[attr-defined]
        dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
        assert count(store, dlv, dlv.c.status == "sending") == 1
        assert count(store, dlv, dlv.c.status == "pending") == 1
        assert event("sending")["data"]["tag"] == "sending"
        assert event("held")["data"]["tag"] == "held"
        chg = DeliveryChangeRow.__table__  # type: ignore[attr-defined]
        assert count(store, chg) == 0  # change rows age out with the history
        metrics = api.get("/metrics").text
        assert 'gateway_retention_pruned_rows_total{kind="payload_events"} 2.0' in metrics
        assert 'gateway_retention_pruned_rows_total{kind="history_events"} 2.0' in metrics
        assert "gateway_database_bytes" in metrics
    evt = EventRow.__table__  # type: ignore[attr-defined]
    assert count(store, evt) == 2


def test_batches_are_bounded(settings: Settings, store: Store, clock: Clock) -> None:
    destination(store, "many")
    store.ingest_events(
        [EventIn(tenant_id="t1", type="task.completed", data=task_data()) for _ in range(30)]
    )  # no destination matches: settled at once
    clock.offset = timedelta(days=PAYLOAD_DAYS, minutes=1)
    assert store.prune_payloads(clock() - timedelta(days=PAYLOAD_DAYS), limit=7) == 7
    assert prune_once(store, settings, max_batches=2) == 23  # the rest, in two batches at most
    evt = EventRow.__table__  # type: ignore[attr-defined]
    assert count(store, evt, evt.c.expired_at.is_(None)) == 0


def test_health_warns_past_the_documented_size(db_url: str, tmp_path: Any) -> None:
    small = make_settings(db_url, tmp_path, GATEWAY_DATABASE_WARN_BYTES=1)
    with TestClient(create_app(small, run_worker=False, run_scheduler=False)) as api:
        public = api.get("/health").json()  # the verdict for anyone, the figures for an admin
        assert public["checks"]["storage"] == {"status": "warning"}
        body = api.get("/health", headers={"x-api-key": ADMIN_KEY}).json()
        storage = body["checks"]["storage"]
        assert storage["status"] == "warning" and storage["bytes"] > storage["warnBytes"] == 1
        assert body["status"] == "degraded"
    roomy = make_settings(db_url, tmp_path)
    with TestClient(create_app(roomy, run_worker=False, run_scheduler=False)) as api:
        assert api.get("/health").json()["checks"]["storage"]["status"] == "ok"


def test_postgres_without_autovacuum_is_vacuumed_by_the_gateway(store: Store) -> None:
    from sqlalchemy import text

    if store.dialect != "postgresql":
        assert store.vacuum_pruned_tables() is False  # SQLite: incremental_vacuum instead
        return
    with store.read() as conn:
        autovacuum = conn.execute(text("SHOW autovacuum")).scalar()
        options = dict(
            conn.execute(
                text(
                    "SELECT relname, reloptions FROM pg_class"
                    " WHERE relname IN ('events', 'attempts')"
                )
            ).all()
        )
    assert "autovacuum_vacuum_scale_factor=0.02" in options["events"]  # migration 0008
    assert store.vacuum_pruned_tables() is (autovacuum == "off")
