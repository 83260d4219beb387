"""``/integrations/destinations`` (CONTRACT §3): create, validate, list, patch, delete, status,
secret rotation and test sends, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.support import (
    DEAD_URL,
    assert_error,
    make_destination,
    new_tenant,
    post_event,
)


def valid_body(tenant: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenantId": tenant,
        "name": "crm",
        "connector": "webhook",
        "url": DEAD_URL,
        "eventTypes": ["task.completed"],
        "retrySchedule": [],
        **extra,
    }


def test_create_shows_the_secret_once(api: TestClient, tenant: str) -> None:
    r = api.post(
        "/integrations/destinations",
        json=valid_body(
            tenant,
            filter={"studyId": "s1"},
            headers={"Authorization": "Bearer x", "X-Env": "prod"},
            timeoutSeconds=5,
            outputSchema={"type": "object"},
        ),
    )
    assert r.status_code == 201, r.text
    dst = r.json()
    assert dst["id"].startswith("dst_")
    assert dst["secret"].startswith("whsec_")
    assert len(base64.b64decode(dst["secret"].removeprefix("whsec_"))) >= 24
    assert dst["tenantId"] == tenant and dst["connector"] == "webhook" and dst["url"] == DEAD_URL
    assert dst["eventTypes"] == ["task.completed"] and dst["filter"] == {"studyId": "s1"}
    assert dst["retrySchedule"] == [] and dst["timeoutSeconds"] == 5
    assert dst["outputSchema"] == {"type": "object"}
    assert dst["status"] == "active" and dst["disabledReason"] is None
    assert dst["version"] == 1 and dst["signing"] == "hmac-sha256"
    assert dst["headers"] == {"Authorization": "[redacted]", "X-Env": "[redacted]"}  # sealed
    got = api.get(f"/integrations/destinations/{dst['id']}").json()
    assert "secret" not in got
    assert got == {k: v for k, v in dst.items() if k != "secret"}
    listed = api.get("/integrations/destinations", params={"tenantId": tenant}).json()
    assert [i["id"] for i in listed["items"]] == [dst["id"]]
    assert "secret" not in listed["items"][0]


def test_create_keeps_a_given_secret(api: TestClient, tenant: str) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    dst = make_destination(api, tenant, secret=secret)
    assert dst["secret"] == secret


# Each row: a change to a valid body, and the path the 422 must name.
INVALID = [
    ({"url": "ftp://example.com/hook"}, "url"),  # not http(s)
    ({"url": "example.com/hook"}, "url"),  # no scheme
    ({"url": "https://x.example/" + "a" * 2048}, "url"),  # longer than 2048
    ({"connector": "slack"}, "connector"),  # unknown connector
    ({"eventTypes": ["task.started"]}, "eventTypes"),  # unknown event type
    ({"eventTypes": ["nope.*"]}, "eventTypes"),  # a family that matches nothing
    ({"eventTypes": []}, "eventTypes"),  # empty
    ({"secret": "sk_" + base64.b64encode(b"k" * 32).decode()}, "secret"),  # wrong prefix
    ({"secret": "whsec_!!not-base64!!"}, "secret"),  # prefix right, body not base64
    ({"secret": "whsec_" + base64.b64encode(b"short").decode()}, "secret"),  # too few bytes
    (
        {"signing": "ed25519", "secret": "whsec_" + base64.b64encode(b"k" * 32).decode()},
        "secret",
    ),  # an HMAC secret for ed25519
    ({"signing": "rsa-sha256"}, "signing"),  # unknown algorithm
    ({"outputSchema": {"type": "no-such-type"}}, "outputSchema"),  # not a JSON Schema
    ({"colour": "red"}, "colour"),  # unknown field
    ({"event_types": ["task.completed"]}, "event_types"),  # snake_case is not the wire name
    ({"timeoutSeconds": 0}, "timeoutSeconds"),  # 1..60
    ({"retrySchedule": [5, -1]}, "retrySchedule"),  # negative step
    ({"rateLimitPerSecond": 0}, "rateLimitPerSecond"),  # must be > 0
    ({"filter": ["studyId"]}, "filter"),  # an object, not a list
    ({"tenantId": None}, "tenantId"),  # the admin must name the tenant
]


@pytest.mark.parametrize(("change", "path"), INVALID)
def test_create_validation_names_the_path(
    api: TestClient, tenant: str, change: dict[str, Any], path: str
) -> None:
    body = {**valid_body(tenant), **change}
    r = api.post("/integrations/destinations", json=body)
    assert_error(r, 422, "validation_error", path)
    assert api.get("/integrations/destinations", params={"tenantId": tenant}).json()["total"] == 0


@pytest.mark.parametrize("missing", ["connector", "url", "eventTypes"])
def test_create_requires_fields(api: TestClient, tenant: str, missing: str) -> None:
    body = valid_body(tenant)
    del body[missing]
    assert_error(
        api.post("/integrations/destinations", json=body), 422, "validation_error", missing
    )


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",  # malformed JSON
        b"[]",  # JSON, but not an object
        b'"webhook"',  # a bare string
    ],
)
def test_malformed_body_is_422(api: TestClient, tenant: str, content: bytes) -> None:
    dst = make_destination(api, tenant)
    headers = {"content-type": "application/json"}
    for method, path in (
        ("POST", "/integrations/destinations"),
        ("PATCH", f"/integrations/destinations/{dst['id']}"),
        ("POST", f"/integrations/destinations/{dst['id']}/disable"),
        ("POST", f"/integrations/destinations/{dst['id']}/test"),
    ):
        r = api.request(method, path, content=content, headers=headers)
        assert_error(r, 422, "validation_error")
    assert api.get(f"/integrations/destinations/{dst['id']}").json()["version"] == 1


def test_list_pages(api: TestClient, tenant: str) -> None:
    ids = sorted(make_destination(api, tenant)["id"] for _ in range(5))
    make_destination(api, new_tenant())  # another tenant's is not counted
    pages = []
    for page in (1, 2, 3, 4):
        body = api.get(
            "/integrations/destinations", params={"tenantId": tenant, "page": page, "pageSize": 2}
        ).json()
        assert set(body) == {"items", "page", "pageSize", "total"}
        assert (body["page"], body["pageSize"], body["total"]) == (page, 2, 5)
        pages.append([i["id"] for i in body["items"]])
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert sorted(sum(pages, [])) == ids  # every one once, none twice
    default = api.get("/integrations/destinations", params={"tenantId": tenant}).json()
    assert (default["page"], default["pageSize"], len(default["items"])) == (1, 10, 5)


# Each row: paging parameters, and the path a 422 names (None: accepted).
PAGING = [
    ({"page": 0}, "page"),  # below 1
    ({"page": 1001}, "page"),  # above 1000
    ({"page": "two"}, "page"),  # not an integer
    ({"pageSize": 0}, "pageSize"),  # below 1
    ({"pageSize": 101}, "pageSize"),  # above 100
    ({"pageSize": "1.5"}, "pageSize"),  # not an integer
    ({"page": 1000, "pageSize": 100}, None),  # both upper bounds are allowed
    ({"page": 1, "pageSize": 1}, None),  # both lower bounds are allowed
]


@pytest.mark.parametrize("path", ["/integrations/destinations", "/integrations/deliveries"])
@pytest.mark.parametrize(("params", "failing"), PAGING)
def test_paging_bounds(
    api: TestClient, path: str, params: dict[str, Any], failing: str | None
) -> None:
    r = api.get(path, params=params)
    if failing is None:
        assert r.status_code == 200, r.text
        assert (r.json()["page"], r.json()["pageSize"]) == (params["page"], params["pageSize"])
    else:
        assert_error(r, 422, "validation_error", failing)


def test_get_unknown_is_404(api: TestClient) -> None:
    assert_error(api.get("/integrations/destinations/dst_nope"), 404, "not_found")


def test_patch_bumps_the_version_and_checks_expected_version(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant)
    path = f"/integrations/destinations/{dst['id']}"
    r = api.patch(path, json={"name": "renamed", "filter": {"studyId": "s9"}})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["version"]) == ("renamed", 2)
    assert r.json()["filter"] == {"studyId": "s9"}
    assert r.json()["url"] == DEAD_URL  # untouched fields stay
    r = api.patch(path, json={"url": "http://127.0.0.1:9/v2", "expectedVersion": 2})
    assert r.status_code == 200, r.text
    assert (r.json()["url"], r.json()["version"]) == ("http://127.0.0.1:9/v2", 3)
    stale = api.patch(path, json={"name": "lost update", "expectedVersion": 2})
    assert_error(stale, 409, "conflict")
    after = api.get(path).json()
    assert (after["name"], after["version"]) == ("renamed", 3)
    assert "secret" not in after
    # Clearing an optional field with null is allowed.
    cleared = api.patch(path, json={"filter": None, "expectedVersion": 3}).json()
    assert (cleared["filter"], cleared["version"]) == (None, 4)


# Each row: a PATCH body, and the path its 422 names.
INVALID_PATCH = [
    ({"url": "ftp://x"}, "url"),  # not http(s)
    ({"url": None}, "url"),  # a destination always has a URL
    ({"eventTypes": []}, "eventTypes"),  # empty
    ({"eventTypes": None}, "eventTypes"),  # null is not "no types"
    ({"eventTypes": ["task.nope"]}, "eventTypes"),  # unknown type
    ({"name": None}, "name"),  # the name may be empty, not null
    ({"timeoutSeconds": None}, "timeoutSeconds"),  # always has a timeout
    ({"ordered": None}, "ordered"),  # a boolean
    ({"secret": "whsec_abc"}, "secret"),  # secrets change by rotation only
    ({"connector": "zapier"}, "connector"),  # the connector is fixed
    ({"tenantId": "t_other"}, "tenantId"),  # a destination never moves tenant
    ({"expectedVersion": "latest"}, "expectedVersion"),  # an integer
    ({"outputSchema": {"type": 5}}, "outputSchema"),  # not a JSON Schema
]


@pytest.mark.parametrize(("body", "path"), INVALID_PATCH)
def test_patch_validation_names_the_path(
    api: TestClient, tenant: str, body: dict[str, Any], path: str
) -> None:
    dst = make_destination(api, tenant)
    r = api.patch(f"/integrations/destinations/{dst['id']}", json=body)
    assert_error(r, 422, "validation_error", path)
    assert api.get(f"/integrations/destinations/{dst['id']}").json()["version"] == 1


def test_delete_cancels_pending_deliveries_and_keeps_them(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant)
    api.post(f"/integrations/destinations/{dst['id']}/disable")  # hold deliveries as pending
    held = [post_event(api, tenant)["deliveryIds"][0] for _ in range(2)]
    path = f"/integrations/destinations/{dst['id']}"
    r = api.delete(path)
    assert r.status_code == 204 and r.content == b""
    for method in ("GET", "PATCH", "DELETE"):
        assert_error(
            api.request(method, path, json={} if method == "PATCH" else None), 404, "not_found"
        )
    for action in ("enable", "disable", "rotate-secret", "test"):
        assert_error(api.post(f"{path}/{action}"), 404, "not_found")
    assert api.get("/integrations/destinations", params={"tenantId": tenant}).json()["total"] == 0
    log = api.get("/integrations/deliveries", params={"destinationId": dst["id"]}).json()
    assert log["total"] == 2
    assert {d["id"]: d["status"] for d in log["items"]} == {i: "cancelled" for i in held}
    # New events no longer fan out to it.
    assert post_event(api, tenant)["deliveryIds"] == []


def test_disable_and_enable(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant)
    path = f"/integrations/destinations/{dst['id']}"
    off = api.post(f"{path}/disable", json={"reason": "maintenance window"})
    assert off.status_code == 200, off.text
    assert off.json()["status"] == "disabled"
    assert off.json()["disabledReason"] == "maintenance window"
    assert off.json()["disabledAt"] is not None and off.json()["version"] == 2
    on = api.post(f"{path}/enable")
    assert on.status_code == 200, on.text
    assert (on.json()["status"], on.json()["disabledReason"], on.json()["disabledAt"]) == (
        "active",
        None,
        None,
    )
    assert on.json()["version"] == 3
    default = api.post(f"{path}/disable").json()  # no body: a default reason
    assert default["status"] == "disabled" and default["disabledReason"]
    assert api.get(path).json()["status"] == "disabled"


def test_rotate_secret_returns_a_new_secret(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant)
    path = f"/integrations/destinations/{dst['id']}"
    r = api.post(f"{path}/rotate-secret")
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != dst["secret"]
    assert rotated["version"] == 2
    again = api.post(f"{path}/rotate-secret").json()["secret"]
    assert again not in (dst["secret"], rotated["secret"])
    assert "secret" not in api.get(path).json()


def test_ed25519_destination_gives_out_the_public_key(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant, signing="ed25519")
    assert dst["signing"] == "ed25519"
    assert dst["secret"].startswith("whpk_")  # consumers verify with the public key
    assert dst["publicKeys"] == [dst["secret"]]
    path = f"/integrations/destinations/{dst['id']}"
    assert api.get(path).json()["publicKeys"] == [dst["secret"]]
    rotated = api.post(f"{path}/rotate-secret").json()
    assert rotated["secret"].startswith("whpk_") and rotated["secret"] != dst["secret"]
    assert rotated["publicKeys"] == [rotated["secret"], dst["secret"]]  # overlap: both verify


def test_given_ed25519_key_is_never_echoed(api: TestClient, tenant: str) -> None:
    from gateway import signing

    private, public = signing.generate_ed25519_keypair()
    dst = make_destination(api, tenant, signing="ed25519", secret=private)
    assert dst["secret"] == public
    assert private not in str(api.get(f"/integrations/destinations/{dst['id']}").json())


def test_test_send_creates_a_test_delivery(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant, eventTypes=["survey.response.completed"])
    path = f"/integrations/destinations/{dst['id']}/test"
    r = api.post(path, json={})
    assert r.status_code == 201, r.text
    delivery = r.json()
    assert delivery["id"].startswith("dlv_")
    assert (delivery["isTest"], delivery["trigger"]) == (True, "test")
    assert delivery["destinationId"] == dst["id"]
    assert delivery["eventType"] == "survey.response.completed"  # the one it subscribes to
    chosen = api.post(path, json={"eventType": "task.completed"}).json()
    assert chosen["eventType"] == "task.completed"
    assert_error(
        api.post(path, json={"eventType": "task.nope"}), 422, "validation_error", "eventType"
    )
    tests = api.get("/integrations/deliveries", params={"tenantId": tenant, "isTest": "true"})
    assert tests.json()["total"] == 2
