"""``/integrations/events`` and ``/integrations/event-types`` (CONTRACT §3): push intake, its
idempotency and validation, batches, fan-out by type and filter, and held deliveries."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from starlette.testclient import TestClient

from gateway.catalog import catalog
from gateway.sandbox.fakes.webhook import WebhookReceiver
from tests.api.support import (
    assert_error,
    make_destination,
    new_tenant,
    post_event,
)
from tests.conftest import task_data


def survey_data() -> dict[str, Any]:
    return copy.deepcopy(catalog()["survey.response.completed"].example)


def deliveries_of(api: TestClient, **params: Any) -> dict[str, Any]:
    r = api.get("/integrations/deliveries", params={"pageSize": 100, **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_intake_answers_202_with_the_deliveries(api: TestClient, tenant: str) -> None:
    dst = make_destination(api, tenant)
    r = api.post(
        "/integrations/events",
        json={"tenantId": tenant, "type": "task.completed", "data": task_data()},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["eventId"].startswith("evt_")
    [delivery_id] = body["deliveryIds"]
    assert delivery_id.startswith("dlv_")
    delivery = api.get(f"/integrations/deliveries/{delivery_id}").json()
    assert (delivery["eventId"], delivery["destinationId"]) == (body["eventId"], dst["id"])
    assert (delivery["trigger"], delivery["isTest"], delivery["replayOf"]) == ("event", False, None)


def test_same_id_again_is_200_and_duplicates_nothing(api: TestClient, tenant: str) -> None:
    make_destination(api, tenant)
    event_id = f"task-{tenant}"
    first = post_event(api, tenant, id=event_id)
    assert first["eventId"] == event_id
    make_destination(api, tenant)  # a destination added later does not get the old event
    r = api.post(
        "/integrations/events",
        json={
            "id": event_id,
            "tenantId": tenant,
            "type": "task.completed",
            "data": task_data(studyId="changed"),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["eventId"] == event_id
    assert r.json()["deliveryIds"] == first["deliveryIds"]
    assert deliveries_of(api, tenantId=tenant)["total"] == 1
    stored = api.get(f"/integrations/events/{event_id}").json()
    assert stored["data"]["studyId"] == task_data()["studyId"]  # the first one is kept


def _without(key: str) -> dict[str, Any]:
    data = task_data()
    del data[key]
    return data


def _persona(**changes: Any) -> dict[str, Any]:
    return task_data(persona={**task_data()["persona"], **changes})


def _turn(**changes: Any) -> dict[str, Any]:
    turns = task_data()["turns"]
    return task_data(turns=[{**turns[0], **changes}, *turns[1:]])


# Each row: the intake body (tenantId added), and the path the 422 must name.
INVALID_EVENTS = [
    ({"type": "task.completed", "data": _without("taskId")}, "data.taskId"),  # missing field
    ({"type": "task.completed", "data": task_data(taskId=42)}, "data.taskId"),  # wrong type
    ({"type": "task.completed", "data": task_data(taskId="")}, "data.taskId"),  # too short
    ({"type": "task.completed", "data": task_data(status="running")}, "data.status"),  # not const
    (
        {"type": "task.completed", "data": task_data(completedAt="yesterday")},
        "data.completedAt",
    ),  # not a date-time
    ({"type": "task.completed", "data": _persona(age="old")}, "data.persona.age"),  # nested
    ({"type": "task.completed", "data": _turn(index=0)}, "data.turns[0].index"),  # in a list
    ({"type": "task.started", "data": task_data()}, "type"),  # unknown type
    ({"type": "task.completed"}, "data"),  # no data
    ({"type": "task.completed", "data": [task_data()]}, "data"),  # data not an object
    ({"id": "has space", "type": "task.completed", "data": task_data()}, "id"),  # bad id
    ({"type": "task.completed", "data": task_data(), "payload": {}}, "payload"),  # unknown field
    (
        {"tenantId": None, "type": "task.completed", "data": task_data()},
        "tenantId",
    ),  # the admin must name the tenant
]


@pytest.mark.parametrize(("body", "path"), INVALID_EVENTS)
def test_intake_validation_names_the_path(
    api: TestClient, tenant: str, body: dict[str, Any], path: str
) -> None:
    make_destination(api, tenant, eventTypes=["*"])
    r = api.post("/integrations/events", json={"tenantId": tenant, **body})
    assert_error(r, 422, "validation_error", path)
    assert deliveries_of(api, tenantId=tenant)["total"] == 0


def test_batch_answers_per_item_in_order(api: TestClient, tenant: str) -> None:
    make_destination(api, tenant)
    known = post_event(api, tenant, id=f"known-{tenant}")
    fresh_id, bad_id = f"fresh-{tenant}", f"bad-{tenant}"

    def item(**extra: Any) -> dict[str, Any]:
        return {"tenantId": tenant, "type": "task.completed", "data": task_data(), **extra}

    r = api.post(
        "/integrations/events",
        json={
            "events": [
                item(id=fresh_id),  # 0: new
                item(id=bad_id, data=_without("studyId")),  # 1: fails the schema
                item(id=fresh_id),  # 2: repeats item 0 inside the batch
                item(id=known["eventId"]),  # 3: stored before
                item(type="task.nope"),  # 4: unknown type
                42,  # 5: not an object
                item(),  # 6: new, id assigned
            ]
        },
    )
    assert r.status_code == 202, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "created",
        "rejected",
        "duplicate",
        "duplicate",
        "rejected",
        "rejected",
        "created",
    ]
    assert [x["eventId"] for x in results[:4]] == [fresh_id, bad_id, fresh_id, known["eventId"]]
    assert results[5]["eventId"] is None and results[6]["eventId"].startswith("evt_")
    assert len(results[0]["deliveryIds"]) == 1
    assert results[2]["deliveryIds"] == results[0]["deliveryIds"]
    assert results[3]["deliveryIds"] == known["deliveryIds"]
    for rejected in (results[1], results[4], results[5]):
        assert rejected["error"]["code"] == "validation_error"
        assert rejected["error"]["message"] and "deliveryIds" not in rejected
    assert "data.studyId" in [d["path"] for d in results[1]["error"]["details"]]
    assert "type" in [d["path"] for d in results[4]["error"]["details"]]
    assert_error(api.get(f"/integrations/events/{bad_id}"), 404, "not_found")
    # known + fresh + the id-less one: three deliveries, none twice.
    assert deliveries_of(api, tenantId=tenant)["total"] == 3


def test_batch_reusing_an_id_across_tenants_makes_two_events(api: TestClient) -> None:
    """Event ids are scoped to a tenant (CONTRACT §2): the same id from two tenants is two
    events, each with its own deliveries."""
    a, b = new_tenant(), new_tenant()
    make_destination(api, a)
    event_id = f"shared-{a}"
    r = api.post(
        "/integrations/events",
        json={
            "events": [
                {"id": event_id, "tenantId": a, "type": "task.completed", "data": task_data()},
                {"id": event_id, "tenantId": b, "type": "task.completed", "data": task_data()},
            ]
        },
    )
    assert r.status_code == 202, r.text
    first, second = r.json()["results"]
    assert first["status"] == "created" and len(first["deliveryIds"]) == 1
    assert second["status"] == "created" and second["deliveryIds"] == []
    for tenant_id, count in ((a, 1), (b, 0)):
        event = api.get(f"/integrations/events/{event_id}", params={"tenantId": tenant_id}).json()
        assert event["tenantId"] == tenant_id and len(event["deliveries"]) == count


# Each row: the ``events`` value, and whether it is refused as a whole.
BATCH_SIZES = [
    ([{"type": "x"}] * 1001, True),  # one over the limit
    ([], True),  # empty
    ({"type": "task.completed"}, True),  # not a list
    ([{"type": "x"}] * 1000, False),  # the limit itself: 202, every item rejected
]


@pytest.mark.parametrize(("events", "refused"), BATCH_SIZES)
def test_batch_size_limits(api: TestClient, events: Any, refused: bool) -> None:
    r = api.post("/integrations/events", json={"events": events})
    if refused:
        assert_error(r, 422, "validation_error", "events")
    else:
        assert r.status_code == 202, r.text
        results = r.json()["results"]
        assert len(results) == 1000 and {x["status"] for x in results} == {"rejected"}


# name -> (eventTypes, filter) of one destination of the fan-out tenant.
FANOUT_DESTINATIONS: dict[str, tuple[list[str], dict[str, Any] | None]] = {
    "task": (["task.completed"], None),
    "survey": (["survey.response.completed"], None),
    "everything": (["*"], None),
    "task-family": (["task.*"], None),
    "study-a": (["task.completed"], {"studyId": "study_a"}),
    "study-a-or-b": (["task.completed"], {"studyId": ["study_a", "study_b"]}),
    "students": (["task.completed"], {"persona.segment": "students"}),
    "study-a-students": (["task.completed"], {"studyId": "study_a", "persona.segment": "students"}),
    "form": (["*"], {"formId": "lT4Z3j"}),
}
ALWAYS_TASK = {"task", "everything", "task-family"}

# Each row: the event, and the destinations it must reach (no others).
FANOUT = [
    (
        "task.completed",
        task_data(studyId="study_a"),
        ALWAYS_TASK | {"study-a", "study-a-or-b"},
    ),  # scalar match and list match
    (
        "task.completed",
        task_data(studyId="study_b"),
        ALWAYS_TASK | {"study-a-or-b"},
    ),  # list value: any of
    ("task.completed", task_data(studyId="study_c"), ALWAYS_TASK),  # no filter matches
    (
        "task.completed",
        task_data(studyId="study_a", persona={"id": "p", "name": "n", "segment": "students"}),
        ALWAYS_TASK | {"study-a", "study-a-or-b", "students", "study-a-students"},
    ),  # dotted path
    (
        "task.completed",
        task_data(studyId="study_c", persona={"id": "p", "name": "n", "segment": "students"}),
        ALWAYS_TASK | {"students"},
    ),  # every key of a filter must match
    (
        "task.completed",
        task_data(persona={"id": "p", "name": "n"}),
        ALWAYS_TASK,
    ),  # a missing field matches nothing
    ("survey.response.completed", survey_data(), {"survey", "everything", "form"}),  # by type
]


@pytest.fixture(scope="module")
def fanout_world(api: TestClient) -> dict[str, Any]:
    tenant = new_tenant()
    names = {}
    for name, (types, flt) in FANOUT_DESTINATIONS.items():
        names[make_destination(api, tenant, eventTypes=types, filter=flt)["id"]] = name
    make_destination(api, new_tenant(), eventTypes=["*"])  # another tenant's: never reached
    return {"tenant": tenant, "names": names}


@pytest.mark.parametrize(("event_type", "data", "expected"), FANOUT)
def test_fan_out_honours_types_and_filters(
    api: TestClient,
    fanout_world: dict[str, Any],
    event_type: str,
    data: dict[str, Any],
    expected: set[str],
) -> None:
    event = post_event(api, fanout_world["tenant"], type=event_type, data=data)
    detail = api.get(f"/integrations/events/{event['eventId']}").json()
    reached = [
        fanout_world["names"].get(d["destinationId"], "foreign") for d in detail["deliveries"]
    ]
    assert sorted(reached) == sorted(expected)
    assert sorted(event["deliveryIds"]) == sorted(d["id"] for d in detail["deliveries"])


def test_disabled_destination_holds_until_enabled(
    api: TestClient, tenant: str, receiver: tuple[WebhookReceiver, str]
) -> None:
    rec, url = receiver
    dst = make_destination(api, tenant, url=f"{url}/held")
    api.post(f"/integrations/destinations/{dst['id']}/disable")
    [delivery_id] = post_event(api, tenant)["deliveryIds"]
    time.sleep(0.4)  # the worker polls every 50 ms: it had its chances
    held = api.get(f"/integrations/deliveries/{delivery_id}").json()
    assert (held["status"], held["attemptCount"]) == ("pending", 0)
    assert rec.on("/held") == []
    api.post(f"/integrations/destinations/{dst['id']}/enable")
    rec.wait_for("/held", 1, timeout=10)
    deadline = time.monotonic() + 10
    while (
        status := api.get(f"/integrations/deliveries/{delivery_id}").json()["status"]
    ) != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == "succeeded"
    assert len(rec.on("/held")) == 1


def test_event_types_catalog(api: TestClient, tenant: str) -> None:
    r = api.get("/integrations/event-types")
    assert r.status_code == 200, r.text
    items = {i["name"]: i for i in r.json()["items"]}
    operational = {
        "gateway.destination.failing",
        "gateway.destination.disabled",
        "gateway.destination.recovered",
        "gateway.delivery.exhausted",
    }
    assert set(items) == {"task.completed", "survey.response.completed", *operational}
    for name, item in items.items():
        Draft202012Validator.check_schema(item["schema"])
        validator = Draft202012Validator(item["schema"], format_checker=FormatChecker())
        assert list(validator.iter_errors(item["example"])) == []
        assert item["description"]
        if name in operational:  # the gateway's own: intake refuses them (no forged alerts)
            r = api.post(
                "/integrations/events",
                json={"tenantId": tenant, "type": name, "data": item["example"]},
            )
            assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "type"
            continue
        # The published example is what intake accepts.
        assert post_event(api, tenant, type=name, data=item["example"])["eventId"]


def test_get_event_with_its_deliveries(api: TestClient, tenant: str) -> None:
    make_destination(api, tenant)
    make_destination(api, tenant)
    data = task_data(studyId="study_detail")
    event = post_event(api, tenant, data=data)
    r = api.get(f"/integrations/events/{event['eventId']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["tenantId"], body["type"]) == (
        event["eventId"],
        tenant,
        "task.completed",
    )
    assert body["data"] == data  # user data keeps its keys as given
    assert body["timestamp"].endswith("Z")
    assert sorted(d["id"] for d in body["deliveries"]) == sorted(event["deliveryIds"])
    assert {d["eventId"] for d in body["deliveries"]} == {event["eventId"]}
    assert_error(api.get("/integrations/events/evt_nope"), 404, "not_found")
