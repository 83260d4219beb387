"""What a new user meets first (issue #14): each bad field at its own path, a warning for an event
nobody receives, one answer with or without a trailing slash, and a useful ``GET /``."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from gateway.catalog import catalog
from tests.api.support import anonymous, assert_error, make_destination, tenant_key
from tests.conftest import task_data

REQUIRED_TASK_FIELDS = catalog()["task.completed"].schema["required"]


def test_every_missing_field_of_event_data_is_named_at_its_own_path(
    api: TestClient, tenant: str
) -> None:
    r = api.post(
        "/integrations/events", json={"tenantId": tenant, "type": "task.completed", "data": {}}
    )
    error = assert_error(r, 422, "validation_error")
    paths = [d["path"] for d in error["details"]]
    assert paths == [f"data.{name}" for name in REQUIRED_TASK_FIELDS]
    assert len(set(paths)) == len(paths) > 1


def test_missing_fields_nested_and_bad_types_each_at_their_path(
    api: TestClient, tenant: str
) -> None:
    data = task_data()
    del data["taskId"], data["studyId"]
    data["status"] = 7
    r = api.post(
        "/integrations/events", json={"tenantId": tenant, "type": "task.completed", "data": data}
    )
    error = assert_error(r, 422, "validation_error", "data.taskId", "data.studyId", "data.status")
    assert len(error["details"]) == len({d["path"] for d in error["details"]})


def test_every_missing_body_field_of_a_destination_is_named(api: TestClient) -> None:
    r = api.post("/integrations/destinations", json={})
    assert_error(r, 422, "validation_error", "connector", "url", "eventTypes")


def test_event_for_a_tenant_with_no_destination_warns(api: TestClient, tenant: str) -> None:
    body = {"tenantId": tenant, "type": "task.completed", "data": task_data()}
    r = api.post("/integrations/events", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["deliveryIds"] == []
    [warning] = r.json()["warnings"]
    assert tenant in warning and "task.completed" in warning
    batch = api.post("/integrations/events", json={"events": [{**body, "data": task_data()}]})
    assert batch.status_code == 202
    assert tenant in batch.json()["results"][0]["warnings"][0]


def test_event_with_a_destination_has_no_warning(api: TestClient, tenant: str) -> None:
    make_destination(api, tenant)
    r = api.post(
        "/integrations/events",
        json={"tenantId": tenant, "type": "task.completed", "data": task_data()},
    )
    assert r.status_code == 202
    assert len(r.json()["deliveryIds"]) == 1
    assert "warnings" not in r.json()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/hooks/me/"),  # the platforms' connection test
        ("GET", "/hooks/zapier/"),  # list subscriptions
        ("GET", "/integrations/destinations/"),
        ("GET", "/integrations/deliveries/"),
        ("GET", "/integrations/event-types/"),
        ("GET", "/health/"),
    ],
)
def test_trailing_slash_answers_the_same_without_a_redirect(
    api: TestClient, tenant: str, method: str, path: str
) -> None:
    headers = tenant_key(api, tenant)
    with_slash = api.request(method, path, headers=headers, follow_redirects=False)
    without = api.request(method, path.rstrip("/"), headers=headers, follow_redirects=False)
    assert with_slash.status_code == without.status_code == 200, with_slash.text
    assert type(with_slash.json()) is type(without.json())
    if isinstance(without.json(), dict):
        assert with_slash.json().keys() == without.json().keys()


def test_subscribe_with_a_trailing_slash_is_not_redirected(api: TestClient, tenant: str) -> None:
    headers = tenant_key(api, tenant)
    body = {"hookUrl": "https://hooks.zapier.com/hooks/catch/1/abc/", "event": "task.completed"}
    r = api.post("/hooks/zapier/", json=body, headers=headers, follow_redirects=False)
    assert r.status_code == 201, r.text
    again = api.post("/hooks/zapier", json=body, headers=headers, follow_redirects=False)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    gone = api.delete(f"/hooks/zapier/{r.json()['id']}/", headers=headers, follow_redirects=False)
    assert gone.status_code == 204


def test_root_points_somewhere_useful(api: TestClient) -> None:
    client = anonymous(api)
    r = client.get("/")
    assert r.status_code == 200
    links = r.json()["links"]
    assert links["dashboard"]["href"] == "/dashboard" and links["health"]["href"] == "/health"
    page = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/dashboard"' in page.text
