"""Auto-disable after a long failure streak (default 5 days), and catch-up on re-enable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.adapters import Outcome, Verdict
from gateway.app import create_app
from gateway.outcome import Policy
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.settings import Settings
from gateway.store import AttemptRecord, EventIn, Store, open_store
from tests.conftest import ADMIN_KEY, make_settings, task_data

FIVE_DAYS = timedelta(days=5)


class Clock:
    """Real time plus an offset the test moves forward (the store's clock override)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(settings: Settings, clock: Clock) -> Iterator[Store]:
    the_store = open_store(settings)
    the_store.clock = clock  # type: ignore[method-assign]
    yield the_store
    the_store.engine.dispose()


def wait_for(read: Any, done: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out; last: {value}")


def test_five_days_of_failure_disables_then_enable_catches_up_oldest_first(
    db_url: str,
    tmp_path: Any,
    clock: Clock,
    receiver: tuple[WebhookReceiver, str],
) -> None:
    rec, url = receiver
    rec.script("/flaky", 500, 500)
    settings = make_settings(db_url, tmp_path, GATEWAY_DESTINATION_CONCURRENCY=1)
    assert settings.auto_disable_after_seconds == FIVE_DAYS.total_seconds()  # the default
    store = open_store(settings)
    store.clock = clock  # type: ignore[method-assign]
    app = create_app(settings, store=store)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as client:
        dst = client.post(
            "/integrations/destinations",
            json={
                "tenantId": "t1",
                "name": "flaky",
                "connector": "webhook",
                "url": f"{url}/flaky",
                "eventTypes": ["task.completed"],
                "retrySchedule": [60, 1, 1, 1],  # the retry is due only once the clock jumps
            },
        ).json()

        def post() -> dict[str, Any]:
            return dict(
                client.post(
                    "/integrations/events",
                    json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
                ).json()
            )

        def destination() -> dict[str, Any]:
            return dict(client.get(f"/integrations/destinations/{dst['id']}").json())

        first = post()
        [delivery_id] = first["deliveryIds"]
        wait_for(
            lambda: client.get(f"/integrations/deliveries/{delivery_id}").json(),
            lambda d: d["attemptCount"] == 1,
        )  # the first failure is recorded, at real time
        assert destination()["status"] == "active"  # one failure is not a streak yet
        clock.offset = FIVE_DAYS + timedelta(minutes=1)  # the retry is due, the streak 5 days old
        after = wait_for(destination, lambda d: d["status"] == "disabled")
        assert "every attempt failed for 5 days" in after["disabledReason"]
        assert len(rec.on("/flaky")) == 2
        held = [post()["eventId"] for _ in range(3)]
        time.sleep(0.4)
        assert len(rec.on("/flaky")) == 2  # held, not sent
        assert (
            client.get(
                "/integrations/deliveries", params={"destinationId": dst["id"], "status": "pending"}
            ).json()["total"]
            == 4
        )
        assert destination()["disabledReason"] == after["disabledReason"]  # the reason is kept
        assert client.post(f"/integrations/destinations/{dst['id']}/enable").status_code == 200
        got = rec.wait_for("/flaky", 6)
        assert [g.headers["webhook-id"] for g in got[2:]] == [
            first["eventId"],
            *held,
        ]  # oldest first
        assert [g.status for g in got[2:]] == [200] * 4
        assert destination()["status"] == "active"
    store.engine.dispose()


def record(store: Store, destination_id: str, ok: bool) -> None:
    """One real attempt: a new event's delivery (or an older one now due), claimed and recorded."""
    store.ingest_events([EventIn(tenant_id="t1", type="task.completed", data=task_data())])
    [claimed] = store.claim_due(owner="test", limit=1, lease_seconds=60)
    store.record_attempts(
        owner="test",
        policy=Policy(auto_disable_after=FIVE_DAYS),
        records=[
            AttemptRecord(
                delivery_id=claimed.id,
                tenant_id="t1",
                destination_id=destination_id,
                number=claimed.attempt_count + 1,
                started_at=store.clock(),
                duration_ms=1.0,
                request_url="http://x/",
                request_headers={},
                result=Outcome(Verdict.SUCCESS) if ok else Outcome(Verdict.RETRY, "HTTP 500"),
            )
        ],
    )


def test_a_success_restarts_the_streak(store: Store, clock: Clock) -> None:
    dst, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": "d",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "event_types": ["*"],
        }
    )
    record(store, dst.id, ok=False)
    clock.offset = timedelta(days=3)
    record(store, dst.id, ok=True)  # the streak ends here
    clock.offset = timedelta(days=5, minutes=1)
    record(store, dst.id, ok=False)  # a new streak, minutes old
    assert store.get_destination(dst.id).status == "active"
    clock.offset = timedelta(days=10, minutes=2)
    record(store, dst.id, ok=False)
    disabled = store.get_destination(dst.id)
    assert disabled.status == "disabled" and "5 days" in disabled.disabled_reason
