"""Tenancy at the edges (CONTRACT §2, §3): foreign ids in filters answer 404, event ids are
scoped to a tenant, and neither ``/metrics`` nor ``/health`` tells an anonymous caller more than
it should."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from gateway.sandbox.fakes.webhook import WebhookReceiver
from tests.api.support import (
    anonymous,
    assert_error,
    make_destination,
    new_tenant,
    post_event,
    tenant_key,
)
from tests.conftest import ADMIN_KEY, make_settings, task_data

FILTERED = ["/integrations/deliveries", "/integrations/deliveries.csv"]


def test_another_tenants_ids_as_filters_answer_404(api: TestClient) -> None:
    a, b = new_tenant(), new_tenant()
    headers = tenant_key(api, a)
    mine = make_destination(api, a)
    theirs = make_destination(api, b)
    my_event = post_event(api, a)["eventId"]
    their_event = post_event(api, b)["eventId"]
    for path in FILTERED:
        # Another tenant's ids, and ids that exist nowhere: the same 404, no oracle.
        for params in (
            {"destinationId": theirs["id"]},
            {"eventId": their_event},
            {"destinationId": "dst_nowhere"},
            {"eventId": "evt_nowhere"},
        ):
            assert_error(api.get(path, params=params, headers=headers), 404, "not_found")
        # The admin naming tenant A and B's ids: 404 too.
        r = api.get(path, params={"tenantId": a, "destinationId": theirs["id"]})
        assert_error(r, 404, "not_found")
        r = api.get(path, params={"tenantId": a, "eventId": their_event})
        assert_error(r, 404, "not_found")
        # Own ids filter as before.
        for params in ({"destinationId": mine["id"]}, {"eventId": my_event}):
            assert api.get(path, params=params, headers=headers).status_code == 200
    r = api.get("/integrations/deliveries", params={"eventId": my_event}, headers=headers)
    assert r.json()["total"] == 1


def test_the_same_event_id_from_two_tenants_is_two_events(api: TestClient) -> None:
    a, b = new_tenant(), new_tenant()
    ha, hb = tenant_key(api, a), tenant_key(api, b)
    make_destination(api, a)
    event_id = f"order-{a}"
    first = post_event(api, a, headers=ha, id=event_id)
    r = api.post(
        "/integrations/events",
        json={"id": event_id, "type": "task.completed", "data": task_data(), "tenantId": b},
        headers=hb,
    )
    assert r.status_code == 202, r.text  # not "is taken": B learns nothing about A
    assert r.json()["deliveryIds"] == []
    # Each sees its own, and a repeat is a duplicate within its own tenant only.
    again = api.post(
        "/integrations/events",
        json={"id": event_id, "type": "task.completed", "data": task_data(), "tenantId": a},
        headers=ha,
    )
    assert again.status_code == 200 and again.json()["deliveryIds"] == first["deliveryIds"]
    seen_a = api.get(f"/integrations/events/{event_id}", headers=ha).json()
    seen_b = api.get(f"/integrations/events/{event_id}", headers=hb).json()
    assert (seen_a["tenantId"], len(seen_a["deliveries"])) == (a, 1)
    assert (seen_b["tenantId"], len(seen_b["deliveries"])) == (b, 0)
    # A tenant key cannot ask for the other tenant's copy.
    r = api.get(f"/integrations/events/{event_id}", params={"tenantId": a}, headers=hb)
    assert_error(r, 404, "not_found")


def test_deliveries_of_a_shared_id_go_out_with_their_own_tenants_data(
    api: TestClient, receiver: tuple[WebhookReceiver, str]
) -> None:
    """The worker loads each delivery's event by (id, tenant): B's destination gets B's data."""
    rec, url = receiver
    a, b = new_tenant(), new_tenant()
    make_destination(api, a, f"{url}/{a}")
    make_destination(api, b, f"{url}/{b}")
    event_id = f"shared-{a}"
    post_event(api, a, id=event_id, data=task_data(taskId="task-of-a"))
    post_event(api, b, id=event_id, data=task_data(taskId="task-of-b"))
    for tenant_id, task in ((a, "task-of-a"), (b, "task-of-b")):
        [got] = rec.wait_for(tenant_id, 1)
        body = json.loads(got.body)
        assert got.headers["webhook-id"] == event_id
        assert (body["tenantId"], body["data"]["taskId"]) == (tenant_id, task)


# ---- /metrics and /health ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from gateway.app import create_app

    tmp = tmp_path_factory.mktemp("metrics")
    settings = make_settings(
        f"sqlite:///{tmp}/gateway.db", tmp, GATEWAY_METRICS_TOKEN="scrape-token-123"
    )
    with TestClient(create_app(settings, run_worker=False)) as client:
        yield client


def test_metrics_needs_an_admin_key_or_the_token(guarded: TestClient) -> None:
    tenant_headers = tenant_key_on(guarded, new_tenant())
    assert_error(guarded.get("/metrics"), 401, "unauthorized")
    assert_error(guarded.get("/metrics", headers={"x-api-key": "wrong"}), 401, "unauthorized")
    assert_error(guarded.get("/metrics", headers=tenant_headers), 403, "forbidden")
    bad = {"authorization": "Bearer scrape-token-12"}
    assert_error(guarded.get("/metrics", headers=bad), 401, "unauthorized")
    for headers in ({"x-api-key": ADMIN_KEY}, {"authorization": "Bearer scrape-token-123"}):
        r = guarded.get("/metrics", headers=headers)
        assert r.status_code == 200 and "gateway_build_info" in r.text


def tenant_key_on(client: TestClient, tenant_id: str) -> dict[str, str]:
    r = client.post(
        "/integrations/keys",
        json={"tenantId": tenant_id, "name": "t"},
        headers={"x-api-key": ADMIN_KEY},
    )
    return {"x-api-key": r.json()["key"]}


def test_public_health_shows_states_only(guarded: TestClient) -> None:
    public = guarded.get("/health").json()
    assert set(public["checks"]) == {"database", "scheduler", "upstream", "storage"}
    for check in public["checks"].values():
        assert set(check) == {"status"} and check["status"] in ("ok", "failing")
    tenant = guarded.get("/health", headers=tenant_key_on(guarded, new_tenant())).json()
    assert tenant["checks"] == public["checks"]
    admin = guarded.get("/health", headers={"x-api-key": ADMIN_KEY}).json()
    assert admin["checks"]["database"]["dialect"] == "sqlite"  # details for the operator
    assert "reason" in admin["checks"]["upstream"]


def test_anonymous_client_sees_no_key_list(api: TestClient) -> None:
    assert_error(anonymous(api).get("/integrations/keys"), 401, "unauthorized")
