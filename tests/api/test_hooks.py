"""``/hooks/{platform}``: subscribe, unsubscribe, samples, polling, and platform delivery rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.sandbox.fakes.platforms import PlatformRecorder, create_platform_receiver
from gateway.sandbox.fakes.server import BackgroundServer
from tests.conftest import task_data
from tests.delivery.test_worker import wait_delivery


@pytest.fixture
def tenant(client: TestClient) -> dict[str, str]:
    key = client.post("/integrations/keys", json={"tenantId": "acme", "name": "zap"}).json()["key"]
    return {"x-api-key": key}


def platform_server(platform: str, **kwargs: Any) -> Iterator[tuple[PlatformRecorder, str]]:
    app, recorder = create_platform_receiver(platform, **kwargs)
    with BackgroundServer(app) as server:
        yield recorder, server.url


@pytest.fixture
def zapier() -> Iterator[tuple[PlatformRecorder, str]]:
    yield from platform_server("zapier")


@pytest.fixture
def n8n() -> Iterator[tuple[PlatformRecorder, str]]:
    yield from platform_server("n8n")


def post_task(client: TestClient, headers: dict[str, str], **data: Any) -> list[str]:
    r = client.post(
        "/integrations/events",
        headers=headers,
        json={"type": "task.completed", "data": task_data(**data)},
    )
    assert r.status_code == 202, r.text
    return list(r.json()["deliveryIds"])


@pytest.mark.parametrize("key", ["url", "hookUrl", "targetUrl", "target_url"])
def test_subscribe_idempotent_and_unsubscribe(
    client: TestClient, tenant: dict[str, str], key: str
) -> None:
    url = f"https://hooks.zapier.com/hooks/standard/1/{key}"
    first = client.post("/hooks/zapier", headers=tenant, json={key: url, "event": "task.completed"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (
        body["id"].startswith("dst_") and body["url"] == url and body["event"] == "task.completed"
    )
    again = client.post("/hooks/zapier", headers=tenant, json={key: url, "event": "task.completed"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    listed = client.get(
        "/hooks/zapier", headers=tenant, params={"url": url, "event": "task.completed"}
    )
    assert [s["id"] for s in listed.json()] == [body["id"]]
    # Visible and operable as a destination too.
    dst = client.get(f"/integrations/destinations/{body['id']}", headers=tenant).json()
    assert dst["connector"] == "zapier" and dst["isSubscription"] is True
    for _ in range(2):
        assert client.delete(f"/hooks/zapier/{body['id']}", headers=tenant).status_code == 204
    assert client.get("/hooks/zapier", headers=tenant, params={"url": url}).json() == []


@pytest.mark.parametrize(
    "body,path",
    [
        ({}, "url"),  # no target URL under any key
        ({"url": "ftp://x"}, "url"),  # not http(s)
        ({"url": "https://x.example/h", "event": "nope"}, "event"),  # unknown event type
    ],
)
def test_subscribe_rejects_bad_input(
    client: TestClient, tenant: dict[str, str], body: dict[str, Any], path: str
) -> None:
    r = client.post("/hooks/make", headers=tenant, json=body)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["path"] == path


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_unknown_platform_and_auth(client: TestClient, tenant: dict[str, str]) -> None:
    assert client.post("/hooks/ifttt", headers=tenant, json={"url": "https://x"}).status_code == 404
    assert (
        client.post(
            "/hooks/zapier", headers={"x-api-key": "nope"}, json={"url": "https://x"}
        ).status_code
        == 401
    )


def test_zapier_delivery_matches_samples(
    client: TestClient, tenant: dict[str, str], zapier: tuple[PlatformRecorder, str]
) -> None:
    rec, url = zapier
    synthetic = client.get("/hooks/zapier/samples/task.completed", headers=tenant).json()
    assert len(synthetic) == 1 and "id" in synthetic[0]
    sub = client.post("/hooks/zapier", headers=tenant, json={"hookUrl": f"{url}/hooks/catch/1/a"})
    assert sub.status_code == 201
    for index in range(4):
        post_task(client, tenant, taskId=f"task_{index}")
    assert rec.wait_for(4, timeout=15)
    delivered = [r.json() for r in rec.requests]
    assert all(isinstance(b, dict) and b["id"].startswith("evt_") for b in delivered)
    assert all(not isinstance(v, dict) for v in delivered[0].values())  # flat
    samples = client.get("/hooks/zapier/samples/task.completed", headers=tenant).json()
    assert len(samples) == 3
    assert [s["task_id"] for s in samples] == ["task_3", "task_2", "task_1"]  # newest first
    assert all(set(s) == set(delivered[0]) for s in samples)
    by_id = {b["id"]: b for b in delivered}
    assert samples[0] == by_id[samples[0]["id"]]  # exactly the live shape
    polled = client.get(
        "/hooks/zapier/events/task.completed", headers=tenant, params={"limit": 2}
    ).json()
    assert [p["id"] for p in polled] == [s["id"] for s in samples[:2]]


def test_zapier_410_unsubscribes_after_one_attempt(
    client: TestClient, tenant: dict[str, str], zapier: tuple[PlatformRecorder, str]
) -> None:
    rec, url = zapier
    rec.script([410])
    sub = client.post("/hooks/zapier", headers=tenant, json={"targetUrl": f"{url}/gone"}).json()
    [delivery] = post_task(client, tenant)
    wait_delivery(client, delivery, "failed")
    assert client.get(f"/integrations/destinations/{sub['id']}", headers=tenant).status_code == 404
    assert client.get("/hooks/zapier", headers=tenant).json() == []
    assert post_task(client, tenant) == []  # no subscription any more: nothing fans out
    time.sleep(0.5)
    assert len(rec.requests) == 1


def test_n8n_403_disables_holds_and_enable_delivers_oldest_first(
    client: TestClient, tenant: dict[str, str], n8n: tuple[PlatformRecorder, str]
) -> None:
    """CONTRACT §2 fixable disable: the delivery that met the 403 stays pending with the rest."""
    rec, url = n8n
    rec.script([403])
    dst = client.post(
        "/integrations/destinations",
        headers=tenant,
        json={
            "connector": "n8n",
            "url": f"{url}/webhook/task",
            "eventTypes": ["task.completed"],
            "credentials": {"headerName": "X-API-Key", "headerValue": "wrong"},
        },
    ).json()
    [delivery] = post_task(client, tenant)
    wait_until(
        lambda: (
            client.get(f"/integrations/destinations/{dst['id']}", headers=tenant).json()["status"]
            == "disabled"
        )
    )
    after = client.get(f"/integrations/destinations/{dst['id']}", headers=tenant).json()
    assert "credential" in after["disabledReason"]
    body = client.get(f"/integrations/deliveries/{delivery}", headers=tenant).json()
    assert body["status"] == "pending" and body["attemptCount"] == 1
    attempt = client.get(f"/integrations/deliveries/{delivery}", headers=tenant).json()["attempts"][
        0
    ]
    assert attempt["requestHeaders"]["X-API-Key"] == "[redacted]"
    assert attempt["requestBody"] == rec.requests[0].body.decode()
    assert attempt["responseBody"] is not None
    held = [post_task(client, tenant)[0] for _ in range(2)]
    client.patch(
        f"/integrations/destinations/{dst['id']}",
        headers=tenant,
        json={"credentials": {"headerName": "X-API-Key", "headerValue": "right"}},
    )
    assert client.post(f"/integrations/destinations/{dst['id']}/enable", headers=tenant).is_success
    for d in (delivery, *held):
        assert wait_delivery(client, d, "succeeded")["status"] == "succeeded"
    sent = [r.headers["x-gateway-delivery-id"] for r in rec.requests[1:]]
    assert sent == [delivery, *held]  # oldest first, the one that met the 403 included


def test_n8n_404_backs_off_then_disables(
    client: TestClient, tenant: dict[str, str], n8n: tuple[PlatformRecorder, str]
) -> None:
    rec, url = n8n
    rec.script([404, 404, 404])
    dst = client.post(
        "/integrations/destinations",
        headers=tenant,
        json={
            "connector": "n8n",
            "url": f"{url}/webhook/inactive",
            "eventTypes": ["task.completed"],
            "retrySchedule": [0.3, 0.3, 0.3, 0.3],
            "options": {"notRegisteredMaxAttempts": 3},
        },
    ).json()
    [delivery] = post_task(client, tenant)
    wait_until(lambda: len(rec.requests) >= 3)
    wait_until(
        lambda: (
            client.get(f"/integrations/destinations/{dst['id']}", headers=tenant).json()["status"]
            == "disabled"
        )
    )
    body = client.get(f"/integrations/deliveries/{delivery}", headers=tenant).json()
    assert body["status"] == "pending" and body["attemptCount"] == 3  # held for the fix
    gaps = [b.monotonic - a.monotonic for a, b in zip(rec.requests, rec.requests[1:], strict=False)]
    assert all(g >= 0.2 for g in gaps)  # backed off between tries
    after = client.get(f"/integrations/destinations/{dst['id']}", headers=tenant).json()
    assert after["status"] == "disabled" and "3 attempts" in after["disabledReason"]


def test_zapier_rate_cap_is_never_exceeded(
    client: TestClient, tenant: dict[str, str], zapier: tuple[PlatformRecorder, str]
) -> None:
    rec, url = zapier
    client.post("/hooks/zapier", headers=tenant, json={"url": f"{url}/burst"})
    events = [{"type": "task.completed", "data": task_data(taskId=f"t{i}")} for i in range(75)]
    r = client.post("/integrations/events", headers=tenant, json={"events": events})
    assert r.status_code == 202
    assert rec.wait_for(75, timeout=20)
    assert rec.peak_requests_per_second(window=1.0) <= 30


def test_hooks_me_names_the_key_and_subscribe_shows_the_secret_once(
    client: TestClient, tenant: dict[str, str]
) -> None:
    me = client.get("/hooks/me", headers=tenant)
    assert me.status_code == 200, me.text
    assert me.json()["tenantId"] == "acme" and me.json()["name"] == "zap"
    assert me.json()["keyId"].startswith("key_")
    assert client.get("/hooks/me", headers={"x-api-key": "nope"}).status_code == 401
    url = "https://hooks.zapier.com/hooks/standard/1/me"
    first = client.post("/hooks/zapier", headers=tenant, json={"url": url})
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
    again = client.post("/hooks/zapier", headers=tenant, json={"url": url})
    assert again.status_code == 200 and "secret" not in again.json()
