"""Delivery rules of CONTRACT §4 against a real loopback receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import time
from typing import Any

from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from gateway import signing
from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from tests.conftest import task_data

Receiver = tuple[WebhookReceiver, str]


def make_destination(client: TestClient, url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "tenantId": "t1",
        "name": "d",
        "connector": "webhook",
        "url": url,
        "eventTypes": ["task.completed"],
        **extra,
    }
    r = client.post("/integrations/destinations", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def post_event(client: TestClient, **extra: Any) -> dict[str, Any]:
    r = client.post(
        "/integrations/events",
        json={"tenantId": "t1", "type": "task.completed", "data": task_data(), **extra},
    )
    assert r.status_code in (200, 202), r.text
    return dict(r.json())


def wait_delivery(
    client: TestClient, delivery_id: str, *statuses: str, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/integrations/deliveries/{delivery_id}").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"delivery stayed {body.get('status')}: {body}")


def test_v1_signature_verifies_with_reference_library(
    client: TestClient, receiver: Receiver
) -> None:
    rec, url = receiver
    dst = make_destination(client, f"{url}/v1")
    post_event(client)
    [got] = rec.wait_for("/v1", 1)
    # The Standard Webhooks reference library, as a consumer would use it.
    payload = Webhook(dst["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "task.completed"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("person-gateway/")
    assert got.headers["x-gateway-attempt"] == "1"


def test_v1a_signature_verifies_with_our_verifier(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    dst = make_destination(client, f"{url}/v1a", signing="ed25519")
    assert dst["secret"].startswith("whpk_")  # the consumer gets the public key
    post_event(client)
    [got] = rec.wait_for("/v1a", 1)
    assert got.headers["webhook-signature"].startswith("v1a,")
    signing.verify(got.body, got.headers, [dst["secret"]], now=int(time.time()))


def test_500_500_200_gives_three_attempts(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/flaky", 500, 500, 200)
    make_destination(client, f"{url}/flaky", retrySchedule=[1, 1])
    [delivery_id] = post_event(client)["deliveryIds"]
    body = wait_delivery(client, delivery_id, "succeeded", timeout=15)
    attempts = client.get(
        f"/integrations/deliveries/{delivery_id}", params={"includeAttempts": "true"}
    ).json()["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 500, 200]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert body["attemptCount"] == 3
    got = rec.on("/flaky")
    assert len(got) == 3
    assert len({g.headers["webhook-id"] for g in got}) == 1
    assert [g.headers["x-gateway-attempt"] for g in got] == ["1", "2", "3"]
    assert attempts[0]["errorClass"] == "http_status"


def test_410_disables_destination(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/gone", 410)
    dst = make_destination(client, f"{url}/gone")
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "failed")
    after = client.get(f"/integrations/destinations/{dst['id']}").json()
    assert after["status"] == "disabled"
    assert "410" in after["disabledReason"]
    # Held, not sent: a new event waits while the destination is disabled.
    [held] = post_event(client)["deliveryIds"]
    time.sleep(0.5)
    assert client.get(f"/integrations/deliveries/{held}").json()["status"] == "pending"
    assert len(rec.on("/gone")) == 1
    assert client.post(f"/integrations/destinations/{dst['id']}/enable").status_code == 200
    wait_delivery(client, held, "succeeded")


def test_429_retry_after_is_honoured(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/slow-down", Script(429, headers={"Retry-After": "2"}), 200)
    make_destination(client, f"{url}/slow-down", retrySchedule=[0.1])
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "succeeded", timeout=15)
    first, second = rec.on("/slow-down")
    assert second.at - first.at >= 2.0


def test_redirect_is_a_failure_and_not_followed(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/moved", Script(301, headers={"Location": f"{url}/elsewhere"}))
    make_destination(client, f"{url}/moved", retrySchedule=[])
    [delivery_id] = post_event(client)["deliveryIds"]
    body = wait_delivery(client, delivery_id, "failed")
    assert body["lastStatusCode"] == 301
    time.sleep(0.2)
    assert rec.on("/elsewhere") == []


def test_timeout_is_recorded(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    rec.script("/stuck", Script(200, delay=3))
    make_destination(client, f"{url}/stuck", timeoutSeconds=1, retrySchedule=[])
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "failed")
    [attempt] = client.get(f"/integrations/deliveries/{delivery_id}").json()["attempts"]
    assert attempt["errorClass"] == "timeout"
    assert attempt["statusCode"] is None
    assert 900 <= attempt["durationMs"] < 2900


def test_output_schema_mismatch_sends_nothing(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    schema = {"type": "object", "required": ["nope"]}
    make_destination(client, f"{url}/strict", outputSchema=schema)
    [delivery_id] = post_event(client)["deliveryIds"]
    wait_delivery(client, delivery_id, "failed")
    [attempt] = client.get(f"/integrations/deliveries/{delivery_id}").json()["attempts"]
    assert attempt["errorClass"] == "schema_mismatch"
    assert rec.on("/strict") == []


def test_rotation_signs_with_old_and_new(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    dst = make_destination(client, f"{url}/rot")
    rotated = client.post(f"/integrations/destinations/{dst['id']}/rotate-secret").json()
    assert rotated["secret"] != dst["secret"]
    post_event(client)
    [got] = rec.wait_for("/rot", 1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (dst["secret"], rotated["secret"]):
        Webhook(secret).verify(got.body, got.headers)


def test_test_send_and_replay(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    dst = make_destination(client, f"{url}/t")
    r = client.post(f"/integrations/destinations/{dst['id']}/test", json={})
    assert r.status_code == 201, r.text
    test = r.json()
    assert test["isTest"] is True and test["trigger"] == "test"
    wait_delivery(client, test["id"], "succeeded")
    [got] = rec.wait_for("/t", 1)
    assert got.headers["x-gateway-test"] == "true"
    replay = client.post(f"/integrations/deliveries/{test['id']}/replay").json()
    assert replay["replayOf"] == test["id"] and replay["trigger"] == "replay"
    wait_delivery(client, replay["id"], "succeeded")
    first, second = rec.wait_for("/t", 2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["x-gateway-delivery-id"] != second.headers["x-gateway-delivery-id"]


def test_ssrf_guard_blocks_private_addresses(
    db_url: str, tmp_path: Any, receiver: Receiver
) -> None:
    """Refused at create; and a destination created while its address was allowed is blocked at
    send once it is not (the allowlist narrowed; for a name, DNS changed)."""
    from gateway.app import create_app
    from tests.conftest import ADMIN_KEY, make_settings

    _, url = receiver
    allowing = make_settings(db_url, tmp_path)
    with TestClient(create_app(allowing), headers={"x-api-key": ADMIN_KEY}) as client:
        make_destination(client, f"{url}/private")
        make_destination(client, url.replace("127.0.0.1", "localhost") + "/x", name="by-name")
    settings = make_settings(db_url, tmp_path, GATEWAY_ALLOW_PRIVATE_NETWORKS="")
    with TestClient(create_app(settings), headers={"x-api-key": ADMIN_KEY}) as client:
        for target in (f"{url}/again", "http://localhost:9/x"):
            r = client.post(
                "/integrations/destinations",
                json={
                    "tenantId": "t1",
                    "connector": "webhook",
                    "url": target,
                    "eventTypes": ["task.completed"],
                },
            )
            assert r.status_code == 422, r.text
            assert "GATEWAY_ALLOW_PRIVATE_NETWORKS" in r.json()["error"]["message"]
        ids = post_event(client)["deliveryIds"]
        assert len(ids) == 2
        for delivery_id in ids:
            body = wait_delivery(client, delivery_id, "failed")
            [attempt] = client.get(f"/integrations/deliveries/{delivery_id}").json()["attempts"]
            assert attempt["errorClass"] == "blocked", attempt
            assert body["attemptCount"] == 1


def test_webhook_secret_given_is_used(client: TestClient, receiver: Receiver) -> None:
    rec, url = receiver
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    dst = make_destination(client, f"{url}/given", secret=secret)
    assert dst["secret"] == secret
    post_event(client)
    [got] = rec.wait_for("/given", 1)
    Webhook(secret).verify(got.body, got.headers)


def test_ordered_destination_delivers_in_order_and_blocks_on_failure(
    client: TestClient, receiver: Receiver
) -> None:
    rec, url = receiver
    rec.script("/ordered", 500)  # the first event fails once: later ones must wait for it
    make_destination(client, f"{url}/ordered", ordered=True, retrySchedule=[1])
    events = [
        {"tenantId": "t1", "type": "task.completed", "data": task_data(taskId=f"t{i}")}
        for i in range(5)
    ]
    r = client.post("/integrations/events", json={"events": events})
    ids = [x["deliveryIds"][0] for x in r.json()["results"]]
    for delivery_id in ids:
        wait_delivery(client, delivery_id, "succeeded")
    got = rec.on("/ordered")
    tasks = [__import__("json").loads(g.body)["data"]["taskId"] for g in got]
    assert tasks == ["t0", "t0", "t1", "t2", "t3", "t4"]


def test_a_crashing_connector_is_recorded_not_stuck(
    client: TestClient, receiver: Receiver, monkeypatch: Any
) -> None:
    from connectors.webhook.adapter import WebhookAdapter

    def boom(self: Any, event: Any, destination: Any, now: Any) -> Any:
        raise RuntimeError("bug in a connector")

    monkeypatch.setattr(WebhookAdapter, "render", boom)
    _, url = receiver
    make_destination(client, f"{url}/crash", retrySchedule=[])
    [delivery_id] = post_event(client)["deliveryIds"]
    body = wait_delivery(client, delivery_id, "failed")
    [attempt] = client.get(f"/integrations/deliveries/{delivery_id}").json()["attempts"]
    assert attempt["errorClass"] == "internal" and "bug in a connector" in attempt["error"]
    assert body["attemptCount"] == 1
