"""Authentication and tenant isolation of the operator surface (CONTRACT §3), and ``/health``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.support import (
    DATABASES,
    admin_client,
    anonymous,
    assert_error,
    make_destination,
    module_database,
    new_tenant,
    post_event,
    tenant_key,
)
from tests.conftest import make_settings


@pytest.fixture(scope="module", params=DATABASES)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with module_database(request, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def api(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with admin_client(db_url, tmp_path_factory) as client:
        yield client


# Every authenticated route of the operator surface, with a body where it takes one.
AUTHENTICATED = [
    ("POST", "/integrations/keys", {"tenantId": "t", "name": "k"}),
    ("POST", "/integrations/destinations", {"tenantId": "t"}),
    ("GET", "/integrations/destinations", None),
    ("GET", "/integrations/destinations/dst_x", None),
    ("PATCH", "/integrations/destinations/dst_x", {"name": "n"}),
    ("DELETE", "/integrations/destinations/dst_x", None),
    ("POST", "/integrations/destinations/dst_x/rotate-secret", None),
    ("POST", "/integrations/destinations/dst_x/enable", None),
    ("POST", "/integrations/destinations/dst_x/disable", None),
    ("POST", "/integrations/destinations/dst_x/test", {}),
    ("POST", "/integrations/events", {"tenantId": "t", "type": "task.completed", "data": {}}),
    ("GET", "/integrations/events/evt_x", None),
    ("GET", "/integrations/event-types", None),
    ("GET", "/integrations/deliveries", None),
    ("GET", "/integrations/deliveries/dlv_x", None),
    ("POST", "/integrations/deliveries/dlv_x/replay", None),
]


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize(
    "key",
    [
        None,  # no header at all
        "",  # an empty header
        "pgw_not-a-key",  # well-formed but unknown
        "admin-test-key ",  # the admin key with a trailing space
    ],
)
def test_missing_or_wrong_key_is_401(
    api: TestClient, method: str, path: str, body: dict[str, Any] | None, key: str | None
) -> None:
    client = anonymous(api)
    headers = {} if key is None else {"x-api-key": key}
    r = client.request(method, path, json=body, headers=headers)
    assert_error(r, 401, "unauthorized")


def test_health_is_public(api: TestClient) -> None:
    r = anonymous(api).get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= {"database", "scheduler", "upstream"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["scheduler"]["status"] == "ok"
    assert "status" in body["checks"]["upstream"]
    # A wrong key does not make a public route fail.
    assert anonymous(api).get("/health", headers={"x-api-key": "wrong"}).status_code == 200


def test_admin_creates_a_tenant_key_that_works(api: TestClient) -> None:
    tenant = new_tenant()
    r = api.post("/integrations/keys", json={"tenantId": tenant, "name": "zapier"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["keyId"].startswith("key_")
    assert isinstance(body["key"], str) and len(body["key"]) >= 32
    headers = {"x-api-key": body["key"]}
    # Without tenantId the destination lands in the key's own tenant.
    created = api.post(
        "/integrations/destinations",
        headers=headers,
        json={
            "name": "own",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "eventTypes": ["task.completed"],
            "retrySchedule": [],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["tenantId"] == tenant
    # Each key is new: a second one differs.
    again = api.post("/integrations/keys", json={"tenantId": tenant, "name": "zapier"}).json()
    assert again["key"] != body["key"] and again["keyId"] != body["keyId"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "k"}, "tenantId"),  # tenantId is required
        ({"tenantId": "", "name": "k"}, "tenantId"),  # and not empty
        ({"tenantId": "t", "scopes": ["all"]}, "scopes"),  # unknown fields are refused
    ],
)
def test_key_body_is_validated(api: TestClient, body: dict[str, Any], path: str) -> None:
    assert_error(api.post("/integrations/keys", json=body), 422, "validation_error", path)


def test_tenant_key_cannot_create_keys(api: TestClient) -> None:
    tenant = new_tenant()
    headers = tenant_key(api, tenant)
    for target in (tenant, new_tenant()):  # neither for itself nor for another tenant
        r = api.post("/integrations/keys", json={"tenantId": target, "name": "x"}, headers=headers)
        assert_error(r, 403, "forbidden")


@pytest.fixture
def other_world(api: TestClient) -> dict[str, Any]:
    """Tenant B's destination, event and delivery, and a key for tenant A."""
    a, b = new_tenant(), new_tenant()
    dst = make_destination(api, b)
    api.post(f"/integrations/destinations/{dst['id']}/disable")  # hold its delivery
    event = post_event(api, b)
    return {
        "a": a,
        "b": b,
        "headers": tenant_key(api, a),
        "dst": dst["id"],
        "evt": event["eventId"],
        "dlv": event["deliveryIds"][0],
    }


# What tenant A may not touch of tenant B's: each answers 404 as if it did not exist.
FOREIGN = [
    ("GET", "/integrations/destinations/{dst}", None),
    ("PATCH", "/integrations/destinations/{dst}", {"name": "stolen"}),
    ("DELETE", "/integrations/destinations/{dst}", None),
    ("POST", "/integrations/destinations/{dst}/rotate-secret", None),
    ("POST", "/integrations/destinations/{dst}/enable", None),
    ("POST", "/integrations/destinations/{dst}/disable", None),
    ("POST", "/integrations/destinations/{dst}/test", {}),
    ("GET", "/integrations/events/{evt}", None),
    ("GET", "/integrations/deliveries/{dlv}", None),
    ("POST", "/integrations/deliveries/{dlv}/replay", None),
    ("GET", "/integrations/destinations?tenantId={b}", None),  # naming the tenant in a list
    ("GET", "/integrations/deliveries?tenantId={b}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN)
def test_another_tenants_resource_is_404(
    api: TestClient, other_world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    w = other_world
    r = api.request(method, path.format(**w), json=body, headers=w["headers"])
    assert_error(r, 404, "not_found")
    # Nothing changed behind the 404.
    dst = api.get(f"/integrations/destinations/{w['dst']}").json()
    assert dst["version"] == 2 and dst["name"] == "d" and dst["status"] == "disabled"
    deliveries = api.get("/integrations/deliveries", params={"tenantId": w["b"]}).json()
    assert deliveries["total"] == 1 and deliveries["items"][0]["status"] == "pending"


def test_lists_are_scoped_to_the_key_tenant(api: TestClient, other_world: dict[str, Any]) -> None:
    w = other_world
    own = make_destination(api, w["a"])
    own_event = post_event(api, w["a"])
    for path, expected in (
        ("/integrations/destinations", {own["id"]}),
        ("/integrations/deliveries", set(own_event["deliveryIds"])),
    ):
        body = api.get(path, headers=w["headers"]).json()
        assert {i["id"] for i in body["items"]} == expected
        assert body["total"] == len(expected)
        assert {i["tenantId"] for i in body["items"]} == {w["a"]}
        # Naming its own tenant, or none (an empty parameter), gives the same list.
        for named in (w["a"], ""):
            again = api.get(path, params={"tenantId": named}, headers=w["headers"])
            assert again.status_code == 200, again.text
            assert {i["id"] for i in again.json()["items"]} == expected
    # The admin sees both tenants.
    assert api.get("/integrations/destinations", params={"tenantId": w["b"]}).json()["total"] == 1


def test_tenant_key_cannot_write_into_another_tenant(
    api: TestClient, other_world: dict[str, Any]
) -> None:
    w = other_world
    r = api.post(
        "/integrations/destinations",
        headers=w["headers"],
        json={
            "tenantId": w["b"],
            "name": "x",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "eventTypes": ["task.completed"],
        },
    )
    assert_error(r, 404, "not_found")
    r = api.post(
        "/integrations/events",
        headers=w["headers"],
        json={"tenantId": w["b"], "type": "task.completed", "data": {}},
    )
    assert_error(r, 404, "not_found")
    # Reusing B's event id from A neither reveals nor touches B's event: ids are scoped to a
    # tenant, so it is A's own new event (no "is taken" that would say B has one).
    r = api.post(
        "/integrations/events",
        headers=w["headers"],
        json={
            "id": w["evt"],
            "type": "task.completed",
            "data": api.get(f"/integrations/events/{w['evt']}").json()["data"],
        },
    )
    assert r.status_code == 202, r.text
    assert r.json()["eventId"] == w["evt"]
    assert api.get("/integrations/destinations", params={"tenantId": w["b"]}).json()["total"] == 1
    assert api.get("/integrations/deliveries", params={"tenantId": w["b"]}).json()["total"] == 1
    mine = api.get(f"/integrations/events/{w['evt']}", headers=w["headers"]).json()
    assert mine["tenantId"] != w["b"] and mine["deliveries"] == []
    theirs = api.get(f"/integrations/events/{w['evt']}", params={"tenantId": w["b"]}).json()
    assert theirs["tenantId"] == w["b"] and len(theirs["deliveries"]) == 1
    # An admin naming no tenant is told to pick one (both exist), never shown a mix.
    assert_error(api.get(f"/integrations/events/{w['evt']}"), 422, "validation_error", "tenantId")


def test_keys_create_cli_prints_a_working_key(api: TestClient, db_url: str, tmp_path: Path) -> None:
    tenant = new_tenant()
    settings = make_settings(db_url, tmp_path)
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_ENCRYPTION_KEY": settings.encryption_key or "",
    }
    env.pop("GATEWAY_ADMIN_KEY", None)
    gateway = Path(sys.executable).with_name("gateway")
    done = subprocess.run(
        [str(gateway), "keys", "create", "--tenant", tenant],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    match = re.search(r"^key:\s+(\S+)$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    headers = {"x-api-key": match.group(1)}
    created = api.post(
        "/integrations/destinations",
        headers=headers,
        json={
            "name": "cli",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/",
            "eventTypes": ["task.completed"],
            "retrySchedule": [],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["tenantId"] == tenant
    listed = api.get("/integrations/destinations", headers=headers).json()
    assert [i["id"] for i in listed["items"]] == [created.json()["id"]]
    # A tenant key, not an admin one.
    r = api.post("/integrations/keys", json={"tenantId": tenant, "name": "x"}, headers=headers)
    assert_error(r, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/integrations/nope"),  # no such route
        ("PUT", "/integrations/destinations"),  # no such method
    ],
)
def test_routing_errors_use_the_error_shape(api: TestClient, method: str, path: str) -> None:
    r = api.request(method, path)
    assert r.status_code in (404, 405)
    assert r.headers["content-type"].startswith("application/json"), r.text
    assert_error(r, r.status_code, "not_found" if r.status_code == 404 else "method_not_allowed")
