"""``GET /metrics``: valid Prometheus text whose numbers equal what the database holds."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.models import DestinationStatus
from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from gateway.settings import Settings
from gateway.store import EventIn, open_store
from gateway.store.tables import AttemptRow, DeliveryRow, EventRow
from tests.conftest import ADMIN_KEY, task_data

_dlv = DeliveryRow.__table__  # type: ignore[attr-defined]
_att = AttemptRow.__table__  # type: ignore[attr-defined]
_evt = EventRow.__table__  # type: ignore[attr-defined]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    r = client.get("/metrics", headers={"x-api-key": ADMIN_KEY})  # an admin key may scrape
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def pick(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def family(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def dst(client: TestClient, url: str, connector: str = "webhook", **extra: Any) -> dict[str, Any]:
    r = client.post(
        "/integrations/destinations",
        json={
            "tenantId": "t1",
            "name": url,
            "connector": connector,
            "url": url,
            "eventTypes": ["task.completed"],
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_settled(client: TestClient, timeout: float = 20.0) -> None:
    """Until only the held deliveries are unfinished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sending, pending = (
            client.get("/integrations/deliveries", params={"status": s}).json()["total"]
            for s in ("sending", "pending")
        )
        if sending == 0 and pending == HELD:
            return
        time.sleep(0.05)
    raise AssertionError("deliveries did not settle")


HELD = 4  # pending deliveries of the disabled destination


def test_metrics_parse_and_match_the_database(
    settings: Settings,
    receiver: tuple[WebhookReceiver, str],
) -> None:
    rec, url = receiver
    for _ in range(3):
        rec.script("/slow", Script(200, delay=0.3))
    rec.script("/bad", *([500] * 10))
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        dst(client, f"{url}/ok")
        slow_dst = dst(client, f"{url}/slow", connector="zapier")
        dst(client, f"{url}/bad", retrySchedule=[])
        held = dst(client, f"{url}/held")
        client.post(f"/integrations/destinations/{held['id']}/disable")
        for _ in range(HELD):
            r = client.post(
                "/integrations/events",
                json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
            )
            assert r.status_code == 202, r.text
        wait_settled(client)
        samples = scrape(client)
    store = open_store(settings)
    with store.read() as conn:
        by_status = Counter(
            {
                (c, s): n
                for c, s, n in conn.execute(
                    select(_dlv.c.connector, _dlv.c.status, func.count()).group_by(
                        _dlv.c.connector, _dlv.c.status
                    )
                ).all()
            }
        )
        attempts = conn.execute(select(func.count()).select_from(_att)).scalar_one()
        slow = conn.execute(
            select(func.count())
            .select_from(_att)
            .where(_att.c.duration_ms > 250, _att.c.destination_id == slow_dst["id"])
        ).scalar_one()
        events = conn.execute(  # the gateway's own operational events have origin "gateway"
            select(func.count()).select_from(_evt).where(_evt.c.origin == "api")
        ).scalar_one()
    store.engine.dispose()
    gauge = {
        (dict(k)["connector"], dict(k)["status"]): v
        for k, v in family(samples, "gateway_deliveries").items()
    }
    assert gauge == by_status
    assert by_status[("webhook", "succeeded")] == HELD
    assert by_status[("zapier", "succeeded")] == HELD
    assert by_status[("webhook", "failed")] == HELD
    assert by_status[("webhook", "pending")] == HELD
    completed = family(samples, "gateway_deliveries_completed_total")
    assert sum(completed.values()) == 3 * HELD
    assert pick(samples, "gateway_attempts_total", connector="webhook", outcome="success") == HELD
    assert sum(family(samples, "gateway_attempts_total").values()) == attempts == 3 * HELD
    hist_count = sum(family(samples, "gateway_attempt_duration_seconds_count").values())
    assert hist_count == attempts
    assert (
        pick(samples, "gateway_attempt_duration_seconds_bucket", connector="zapier", le="0.25")
        == HELD - slow
    )
    assert (
        pick(samples, "gateway_attempt_duration_seconds_bucket", connector="zapier", le="+Inf")
        == HELD
    )
    assert pick(samples, "gateway_attempt_duration_seconds_sum", connector="zapier") >= 0.9
    assert pick(samples, "gateway_queue_depth", state="held") == HELD
    assert pick(samples, "gateway_queue_depth", state="due") == 0
    assert pick(samples, "gateway_events_total", origin="api") == events == HELD
    assert pick(samples, "gateway_intake_events_per_second", origin="api", window="1m") == HELD / 60
    assert pick(samples, "gateway_destinations", status="disabled") == 1


def test_metrics_after_restart_and_poller_lag(settings: Settings) -> None:
    store = open_store(settings)
    fixed = store.clock()
    store.clock = lambda: fixed  # type: ignore[method-assign]
    store.save_cursor("t1", last_success_at=fixed - timedelta(seconds=90), failures=2)
    destination, _ = store.create_destination(
        {
            "tenant_id": "t1",
            "name": "d",
            "connector": "n8n",
            "url": "http://127.0.0.1:9/",
            "event_types": ["task.completed"],
        }
    )
    store.set_destination_status(destination.id, DestinationStatus.DISABLED, "held")
    store.ingest_events([EventIn(tenant_id="t1", type="task.completed", data=task_data())])
    for _ in range(2):  # two separate processes' lifetimes: the numbers come from the database
        app = create_app(settings, store=store, run_worker=False, run_scheduler=False)
        with TestClient(app) as client:
            samples = scrape(client)
        assert pick(samples, "gateway_poller_lag_seconds", tenant="t1") == 90
        assert pick(samples, "gateway_poller_consecutive_failures", tenant="t1") == 2
        assert pick(samples, "gateway_deliveries", connector="n8n", status="pending") == 1
        assert pick(samples, "gateway_queue_depth", state="held") == 1
        assert pick(samples, "gateway_events_total", origin="api") == 1
    store.engine.dispose()
