"""Operational events arrive exactly once at a subscribed destination, signed like any event:
a 410, an exhausted delivery, a long failure (50 % and 90 %) and a recovery."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway import signing
from gateway.app import create_app
from gateway.sandbox.fakes.webhook import Received, WebhookReceiver
from gateway.store import Store, open_store
from tests.conftest import ADMIN_KEY, make_settings, task_data

WINDOW_SECONDS = 100.0


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def wait_until(read: Any, done: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.05)
        value = read()
    return value


class Rig:
    """The app (worker on, scheduler off: the test runs the failing scan) and an ops listener."""

    def __init__(self, api: TestClient, store: Store, rec: WebhookReceiver, url: str) -> None:
        self.api, self.store, self.rec, self.url = api, store, rec, url
        ops = self.destination("ops", ["gateway.*"])  # operational events only: no loops
        self.ops_id, self.ops_secret = ops["id"], ops["secret"]

    def destination(self, path: str, types: list[str], **extra: Any) -> dict[str, Any]:
        r = self.api.post(
            "/integrations/destinations",
            json={
                "tenantId": "t1",
                "name": path,
                "connector": "webhook",
                "url": f"{self.url}/{path}",
                "eventTypes": types,
                **extra,
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def post(self) -> str:
        r = self.api.post(
            "/integrations/events",
            json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
        )
        return str(r.json()["deliveryIds"][0])

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/integrations/deliveries/{delivery_id}").json())

    def settled(self) -> list[Received]:
        """What /ops received once nothing addressed to it is pending or sending."""

        def unfinished() -> int:
            return sum(
                self.api.get(
                    "/integrations/deliveries",
                    params={"destinationId": self.ops_id, "status": status},
                ).json()["total"]
                for status in ("pending", "sending")
            )

        wait_until(unfinished, lambda n: n == 0)
        return self.rec.on("/ops")

    def notices(self, event_type: str) -> list[dict[str, Any]]:
        """Bodies of the operational events of this type /ops received, each verified."""
        out = []
        for got in self.settled():
            body = json.loads(got.body)
            if body["type"] != event_type:
                continue
            stamp = int(got.headers["webhook-timestamp"])
            signing.verify(got.body, got.headers, [self.ops_secret], now=stamp)
            assert got.headers["webhook-id"] == body["id"]
            assert got.headers["x-gateway-delivery-id"].startswith("dlv_")
            out.append(body)
        return out


@pytest.fixture
def rig(
    db_url: str, tmp_path: Any, receiver: tuple[WebhookReceiver, str]
) -> Iterator[tuple[Rig, Clock]]:
    rec, url = receiver
    settings = make_settings(db_url, tmp_path, GATEWAY_AUTO_DISABLE_AFTER_SECONDS=WINDOW_SECONDS)
    clock = Clock()
    store = open_store(settings)
    store.clock = clock  # type: ignore[method-assign]
    app = create_app(settings, store=store, run_scheduler=False)
    with TestClient(app, headers={"x-api-key": ADMIN_KEY}) as api:
        yield Rig(api, store, rec, url), clock
    store.engine.dispose()


def test_410_and_exhausted_arrive_once_each(rig: tuple[Rig, Clock]) -> None:
    r, _ = rig
    r.rec.script("/gone", 410)
    r.rec.script("/bad", 500, 500)
    gone = r.destination("gone", ["task.completed"], retrySchedule=[0.1])
    bad = r.destination("bad", ["task.completed"], retrySchedule=[0.1])
    r.post()  # one event: a delivery to each
    [disabled] = wait_until(lambda: r.notices("gateway.destination.disabled"), lambda n: n)
    assert disabled["data"]["destinationId"] == gone["id"]
    assert "410" in disabled["data"]["reason"]
    [exhausted] = wait_until(lambda: r.notices("gateway.delivery.exhausted"), lambda n: n)
    assert exhausted["data"]["destinationId"] == bad["id"]
    assert exhausted["data"]["attempts"] == 2 and exhausted["data"]["lastStatusCode"] == 500
    assert r.delivery(exhausted["data"]["deliveryId"])["status"] == "failed"
    assert r.notices("gateway.destination.disabled") == [disabled]  # exactly once
    assert r.notices("gateway.delivery.exhausted") == [exhausted]
    assert exhausted["tenantId"] == "t1" and exhausted["type"] == "gateway.delivery.exhausted"


def test_long_failure_warns_at_50_and_90_then_recovers_once_each(
    rig: tuple[Rig, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    r, clock = rig
    window = timedelta(seconds=WINDOW_SECONDS)
    r.rec.script("/flaky", 500)  # then 200s (the receiver's default)
    flaky = r.destination("flaky", ["task.completed"], retrySchedule=[3600])
    first = r.post()
    wait_until(lambda: r.delivery(first)["attemptCount"], lambda n: n == 1)
    caplog.set_level(logging.INFO, logger="gateway.ops")

    clock.offset = window * 0.4
    assert r.store.scan_failing(window=window) == []  # 40 %: nothing yet
    clock.offset = window * 0.55
    assert len(r.store.scan_failing(window=window)) == 1
    assert r.store.scan_failing(window=window) == []  # the next tick: nothing again
    clock.offset = window * 0.92
    assert len(r.store.scan_failing(window=window)) == 1
    assert r.store.scan_failing(window=window) == []
    failing = r.notices("gateway.destination.failing")
    assert [n["data"]["threshold"] for n in failing] == [50, 90]
    assert {n["data"]["destinationId"] for n in failing} == {flaky["id"]}

    second = r.post()  # the first success ends the streak
    wait_until(lambda: r.delivery(second)["status"], lambda s: s == "succeeded")
    [recovered] = wait_until(lambda: r.notices("gateway.destination.recovered"), lambda n: n)
    assert recovered["data"] == {
        **recovered["data"],
        "destinationId": flaky["id"],
        "recoveredBy": "success",
    }
    third = r.post()  # more successes: no more recoveries
    wait_until(lambda: r.delivery(third)["status"], lambda s: s == "succeeded")
    assert len(r.notices("gateway.destination.recovered")) == 1
    assert len(r.notices("gateway.destination.failing")) == 2
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "gateway.ops"]
    assert [line["event"] for line in lines] == [
        "gateway.destination.failing",
        "gateway.destination.failing",
        "gateway.destination.recovered",
    ]
    # Nothing is ever about the ops-only destination itself, though its deliveries succeeded.
    assert all(json.loads(g.body)["data"]["destinationId"] != r.ops_id for g in r.settled())


def test_enable_is_a_recovery_and_ops_only_destinations_are_never_the_subject(
    rig: tuple[Rig, Clock],
) -> None:
    r, _ = rig
    target = r.destination("target", ["task.completed"])
    assert r.api.post(f"/integrations/destinations/{target['id']}/disable").status_code == 200
    assert r.api.post(f"/integrations/destinations/{target['id']}/enable").status_code == 200
    assert r.api.post(f"/integrations/destinations/{r.ops_id}/disable").status_code == 200
    assert r.api.post(f"/integrations/destinations/{r.ops_id}/enable").status_code == 200
    [disabled] = r.notices("gateway.destination.disabled")
    [recovered] = r.notices("gateway.destination.recovered")
    assert disabled["data"]["destinationId"] == recovered["data"]["destinationId"] == target["id"]
    assert disabled["data"]["reason"] == "disabled by operator"
    assert recovered["data"]["recoveredBy"] == "enabled"
    listed = r.api.get(f"/integrations/destinations/{target['id']}/operational-events").json()
    assert [e["type"] for e in listed["items"]] == [
        "gateway.destination.recovered",
        "gateway.destination.disabled",
    ]
