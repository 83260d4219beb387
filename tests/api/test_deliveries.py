"""``/integrations/deliveries`` (CONTRACT §3): the log's filters and pages, detail with
attempts, and replay of one delivery, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.support import (
    assert_error,
    make_destination,
    new_tenant,
    post_event,
)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def log(api: TestClient, **params: Any) -> dict[str, Any]:
    r = api.get("/integrations/deliveries", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_status(api: TestClient, delivery_id: str, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal body
        body = api.get(f"/integrations/deliveries/{delivery_id}").json()
        return bool(body["status"] == status)

    wait_until(reached, f"{delivery_id} to be {status}")
    return body


@pytest.fixture(scope="module")
def world(api: TestClient) -> dict[str, Any]:
    """Tenant T: destination A fails at once (a0..a2), destination B is disabled and holds
    (b0..b2, and the test send t); tenant U: one failed delivery u0. Names map to ids, and
    ``created:<name>`` to that delivery's ``createdAt``."""
    t, u = new_tenant(), new_tenant()
    a = make_destination(api, t)
    b = make_destination(api, t)
    api.post(f"/integrations/destinations/{b['id']}/disable")
    w: dict[str, Any] = {"T": t, "U": u, "A": a["id"], "B": b["id"]}
    for i in range(3):
        event = post_event(api, t)
        w[f"e{i}"] = event["eventId"]
        for d in event["deliveryIds"]:
            dst_id = api.get(f"/integrations/deliveries/{d}").json()["destinationId"]
            w[f"{'a' if dst_id == a['id'] else 'b'}{i}"] = d
        time.sleep(0.02)  # createdAt has millisecond resolution: keep events apart
    w["t"] = api.post(f"/integrations/destinations/{b['id']}/test", json={}).json()["id"]
    make_destination(api, u)
    [w["u0"]] = post_event(api, u)["deliveryIds"]
    wait_until(
        lambda: (
            log(api, tenantId=t, status="failed")["total"] == 3
            and log(api, tenantId=u, status="failed")["total"] == 1
        ),
        "the failures",
    )
    for name in ("a0", "a1", "a2", "b0", "b1", "b2", "t", "u0"):
        w[f"created:{name}"] = api.get(f"/integrations/deliveries/{w[name]}").json()["createdAt"]
    return w


ALL_T = {"a0", "a1", "a2", "b0", "b1", "b2", "t"}

# Each row: filters (a value "@x" is the world's x), and the deliveries listed (no others).
FILTERS = [
    ({"tenantId": "@T"}, ALL_T),  # a tenant's whole log
    ({"tenantId": "@U"}, {"u0"}),  # another tenant's
    ({"eventId": "@e1"}, {"a1", "b1"}),  # without tenantId the admin sees every tenant
    ({"tenantId": "@T", "destinationId": "@A"}, {"a0", "a1", "a2"}),
    ({"tenantId": "@T", "destinationId": "@B"}, {"b0", "b1", "b2", "t"}),
    ({"tenantId": "@T", "status": "failed"}, {"a0", "a1", "a2"}),
    ({"tenantId": "@T", "status": "pending"}, {"b0", "b1", "b2", "t"}),  # held
    ({"tenantId": "@T", "status": "succeeded"}, set()),
    ({"tenantId": "@T", "isTest": "true"}, {"t"}),
    ({"tenantId": "@T", "isTest": "false"}, ALL_T - {"t"}),
    ({"tenantId": "@T", "since": "@created:a1"}, {"a1", "b1", "a2", "b2", "t"}),  # from a1 on
    ({"tenantId": "@T", "until": "@created:a1"}, {"a0", "b0"}),  # before a1
    ({"tenantId": "@T", "since": "@created:a1", "until": "@created:a2"}, {"a1", "b1"}),
    ({"tenantId": "@T", "destinationId": "@A", "status": "pending"}, set()),  # filters AND
    ({"eventId": "@e2", "status": "failed"}, {"a2"}),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_filters(
    api: TestClient, world: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    query = {k: world[v[1:]] if v.startswith("@") else v for k, v in params.items()}
    body = log(api, pageSize=100, **query)
    names = {v: k for k, v in world.items() if isinstance(v, str) and v.startswith("dlv_")}
    assert {names.get(i["id"], i["id"]) for i in body["items"]} == expected
    assert body["total"] == len(expected)


def test_pages_newest_first(api: TestClient, world: dict[str, Any]) -> None:
    pages = []
    for page in (1, 2, 3, 4):
        body = log(api, tenantId=world["T"], page=page, pageSize=3)
        assert (body["page"], body["pageSize"], body["total"]) == (page, 3, 7)
        pages.append([i["id"] for i in body["items"]])
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    every = sum(pages, [])
    assert every == sorted(every, reverse=True)  # ids sort by creation time
    assert set(every) == {world[n] for n in ALL_T}


def test_include_attempts(api: TestClient, world: dict[str, Any]) -> None:
    with_attempts = log(api, destinationId=world["A"], includeAttempts="true")["items"]
    assert len(with_attempts) == 3
    for item in with_attempts:
        [attempt] = item["attempts"]
        assert attempt["id"].startswith("att_")
        assert (attempt["deliveryId"], attempt["number"]) == (item["id"], 1)
        assert attempt["statusCode"] is None and attempt["errorClass"] == "connect"
        assert attempt["error"] and attempt["startedAt"].endswith("Z")
    for flag in ({}, {"includeAttempts": "false"}):
        items = log(api, destinationId=world["A"], **flag)["items"]
        assert items and all("attempts" not in i for i in items)


# Each row: a bad query parameter; the 422 names it.
BAD_QUERIES = [
    ("status", "bogus"),  # not a delivery status
    ("status", "FAILED"),  # statuses are lower case
    ("isTest", "maybe"),  # not a boolean
    ("includeAttempts", "perhaps"),
    ("since", "yesterday"),  # not ISO 8601
    ("until", "13"),
    ("pageSize", "101"),
]


@pytest.mark.parametrize(("name", "value"), BAD_QUERIES)
def test_bad_query_is_422(api: TestClient, name: str, value: str) -> None:
    assert_error(
        api.get("/integrations/deliveries", params={name: value}), 422, "validation_error", name
    )


def test_detail(api: TestClient, world: dict[str, Any]) -> None:
    r = api.get(f"/integrations/deliveries/{world['a0']}", params={"includeAttempts": "true"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["id"], d["tenantId"], d["eventId"], d["destinationId"]) == (
        world["a0"],
        world["T"],
        world["e0"],
        world["A"],
    )
    assert (d["eventType"], d["connector"], d["status"]) == ("task.completed", "webhook", "failed")
    assert (d["attemptCount"], d["nextAttemptAt"], d["isTest"]) == (1, None, False)
    assert (d["trigger"], d["replayOf"]) == ("event", None)
    assert d["lastError"] and d["completedAt"] and d["createdAt"].endswith("Z")
    assert [a["number"] for a in d["attempts"]] == [1]
    held = api.get(f"/integrations/deliveries/{world['t']}").json()
    assert (held["status"], held["attemptCount"], held["isTest"], held["trigger"]) == (
        "pending",
        0,
        True,
        "test",
    )
    assert_error(api.get("/integrations/deliveries/dlv_nope"), 404, "not_found")


def test_replay_creates_a_linked_delivery(api: TestClient) -> None:
    tenant = new_tenant()
    dst = make_destination(api, tenant)
    event = post_event(api, tenant)
    [original] = event["deliveryIds"]
    wait_status(api, original, "failed")
    r = api.post(f"/integrations/deliveries/{original}/replay")
    assert r.status_code == 201, r.text
    replay = r.json()
    assert replay["id"].startswith("dlv_") and replay["id"] != original
    assert (replay["replayOf"], replay["trigger"], replay["isTest"]) == (original, "replay", False)
    assert (replay["eventId"], replay["destinationId"]) == (event["eventId"], dst["id"])
    assert replay["status"] in ("pending", "sending", "failed")
    listed = log(api, eventId=event["eventId"])
    assert listed["total"] == 2 and {i["id"] for i in listed["items"]} == {original, replay["id"]}
    detail = api.get(f"/integrations/events/{event['eventId']}").json()
    assert {d["id"] for d in detail["deliveries"]} == {original, replay["id"]}
    # The replay is delivered (and fails) on its own; the original is untouched.
    assert wait_status(api, replay["id"], "failed")["attemptCount"] == 1
    assert api.get(f"/integrations/deliveries/{original}").json()["attemptCount"] == 1
    # A replay of a replay links to the replay.
    again = api.post(f"/integrations/deliveries/{replay['id']}/replay").json()
    assert again["replayOf"] == replay["id"]
    assert_error(api.post("/integrations/deliveries/dlv_nope/replay"), 404, "not_found")


def test_replay_of_a_test_send_stays_a_test(api: TestClient) -> None:
    dst = make_destination(api, new_tenant())
    sent = api.post(f"/integrations/destinations/{dst['id']}/test", json={}).json()
    replay = api.post(f"/integrations/deliveries/{sent['id']}/replay").json()
    assert (replay["isTest"], replay["trigger"], replay["replayOf"]) == (True, "replay", sent["id"])


def test_replay_to_a_deleted_destination_is_409(api: TestClient) -> None:
    tenant = new_tenant()
    dst = make_destination(api, tenant)
    api.post(f"/integrations/destinations/{dst['id']}/disable")
    [held] = post_event(api, tenant)["deliveryIds"]
    assert api.delete(f"/integrations/destinations/{dst['id']}").status_code == 204
    assert api.get(f"/integrations/deliveries/{held}").json()["status"] == "cancelled"
    assert_error(api.post(f"/integrations/deliveries/{held}/replay"), 409, "conflict")
    assert log(api, tenantId=tenant)["total"] == 1
