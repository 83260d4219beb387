from __future__ import annotations

import time

from gateway.sandbox.fakes.webhook import WebhookReceiver
from tests.conftest import task_data


def wait_status(client, delivery_id: str, status: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(
            f"/integrations/deliveries/{delivery_id}", params={"includeAttempts": "true"}
        ).json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{delivery_id} is {body['status']}, not {status}: {body}")


def test_event_reaches_receiver(client, receiver: tuple[WebhookReceiver, str]) -> None:
    rec, url = receiver
    r = client.post(
        "/integrations/destinations",
        json={
            "tenantId": "t1",
            "name": "hook",
            "connector": "webhook",
            "url": f"{url}/in",
            "eventTypes": ["task.completed"],
        },
    )
    assert r.status_code == 201, r.text
    rec.expect_secret("/in", r.json()["secret"])
    r = client.post(
        "/integrations/events",
        json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
    )
    assert r.status_code == 202, r.text
    [delivery_id] = r.json()["deliveryIds"]
    got = rec.wait_for("/in", 1)
    assert got[0].verified is True
    body = wait_status(client, delivery_id, "succeeded")
    assert body["attemptCount"] == 1
    assert body["attempts"][0]["statusCode"] == 200
