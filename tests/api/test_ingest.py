"""Survey connectors end to end: /ingest for Typeform and Qualtrics, and outbound deliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.sandbox.fakes.qualtrics import DEFAULT_API_TOKEN, FakeQualtrics, completed_callback
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.typeform import TypeformReceiver
from tests.conftest import task_data
from tests.delivery.test_worker import wait_delivery

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TYPEFORM_BODY = (FIXTURES / "typeform" / "inbound_all_types.json").read_bytes()
TYPEFORM_SIGNATURE = "sha256=gx4+kr8XFZQK5XeVnmFEfQXwieeGbA6nqPqrn07K7n0="
SURVEY_ID, RESPONSE_ID = "SV_bK3mQ9xT2vL7pNw", "R_2aX9kLmQ4pZ7tVy"


@pytest.fixture
def qualtrics() -> Iterator[tuple[FakeQualtrics, str]]:
    fake = FakeQualtrics()
    with BackgroundServer(fake.app) as server:
        yield fake, server.url


def typeform_source(client: TestClient) -> dict[str, Any]:
    r = client.post(
        "/integrations/sources",
        json={"tenantId": "t1", "kind": "typeform", "secret": "test-secret"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_typeform_ingest_verifies_and_dedupes(client: TestClient) -> None:
    source = typeform_source(client)
    assert source["ingestUrl"].endswith(f"/ingest/typeform/{source['sourceId']}")
    client.post(
        "/integrations/destinations",
        json={
            "tenantId": "t1",
            "connector": "webhook",
            "url": "http://127.0.0.1:9/x",
            "eventTypes": ["survey.response.completed"],
            "retrySchedule": [],
        },
    )
    path = f"/ingest/typeform/{source['sourceId']}"
    headers = {"Typeform-Signature": TYPEFORM_SIGNATURE, "content-type": "application/json"}
    first = client.post(path, content=TYPEFORM_BODY, headers=headers)
    assert first.status_code == 200, first.text
    event_id = first.json()["eventId"]
    event = client.get(f"/integrations/events/{event_id}").json()
    assert event["type"] == "survey.response.completed"
    sample = json.loads(TYPEFORM_BODY)["form_response"]
    assert len(event["data"]["answers"]) == len(sample["answers"]) == 15
    assert event["data"]["formId"] == sample["form_id"]
    assert len(event["deliveries"]) == 1
    again = client.post(path, content=TYPEFORM_BODY, headers=headers)
    assert again.status_code == 200 and again.json()["eventId"] == event_id
    assert again.json()["status"] == "duplicate"
    assert len(client.get(f"/integrations/events/{event_id}").json()["deliveries"]) == 1


@pytest.mark.parametrize(
    "body,signature",
    [
        (TYPEFORM_BODY[:-2] + b"X}", TYPEFORM_SIGNATURE),  # one changed byte
        (
            json.dumps(json.loads(TYPEFORM_BODY), indent=2).encode(),
            TYPEFORM_SIGNATURE,
        ),  # re-serialised
        (TYPEFORM_BODY, None),  # no signature
        (TYPEFORM_BODY, "sha256=" + "A" * 43 + "="),  # wrong signature
    ],
)
def test_typeform_bad_signature_is_401_and_stores_nothing(
    client: TestClient, body: bytes, signature: str | None
) -> None:
    source = typeform_source(client)
    headers = {"Typeform-Signature": signature} if signature else {}
    r = client.post(f"/ingest/typeform/{source['sourceId']}", content=body, headers=headers)
    assert r.status_code == 401
    assert client.get("/integrations/deliveries", params={"tenantId": "t1"}).json()["total"] == 0


def test_unknown_source_is_401_not_404(client: TestClient) -> None:
    r = client.post(
        "/ingest/typeform/src_nope",
        content=TYPEFORM_BODY,
        headers={"Typeform-Signature": TYPEFORM_SIGNATURE},
    )
    assert r.status_code == 401


@pytest.mark.parametrize("shared_key", [None, "test-shared-key"])
def test_qualtrics_callback_fetches_once(
    client: TestClient, qualtrics: tuple[FakeQualtrics, str], shared_key: str | None
) -> None:
    fake, base = qualtrics
    r = client.post(
        "/integrations/sources",
        json={
            "tenantId": "t1",
            "kind": "qualtrics",
            "secret": shared_key,
            "qualtrics": {"baseUrl": base, "apiToken": DEFAULT_API_TOKEN},
        },
    )
    assert r.status_code == 201, r.text
    path = f"/ingest/qualtrics/{r.json()['sourceId']}"
    body = completed_callback(SURVEY_ID, RESPONSE_ID, shared_key=shared_key)
    form = {"content-type": "application/x-www-form-urlencoded"}
    first = client.post(path, content=body, headers=form)
    assert first.status_code == 200, first.text
    gets = [q for q in fake.requests if q.method == "GET"]
    assert len(gets) == 1 and gets[0].path.endswith(f"/responses/{RESPONSE_ID}")
    event = client.get(f"/integrations/events/{first.json()['eventId']}").json()
    assert event["data"]["source"] == "qualtrics" and event["data"]["responseId"] == RESPONSE_ID
    assert {a["questionId"] for a in event["data"]["answers"]} >= {"QID1", "QID3_TEXT"}
    assert client.post(path, content=body, headers=form).json()["status"] == "duplicate"
    assert len([q for q in fake.requests if q.method == "GET"]) == 1  # no second fetch


def test_qualtrics_wrong_hmac_is_401(
    client: TestClient, qualtrics: tuple[FakeQualtrics, str]
) -> None:
    fake, base = qualtrics
    r = client.post(
        "/integrations/sources",
        json={
            "tenantId": "t1",
            "kind": "qualtrics",
            "secret": "test-shared-key",
            "qualtrics": {"baseUrl": base, "apiToken": DEFAULT_API_TOKEN},
        },
    )
    body = completed_callback(SURVEY_ID, RESPONSE_ID, shared_key="another-key")
    answer = client.post(
        f"/ingest/qualtrics/{r.json()['sourceId']}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 401
    assert fake.requests == []


def test_task_to_typeform_destination_verifies(client: TestClient) -> None:
    receiver = TypeformReceiver()
    receiver.expect_secret("/tf", "shared-typeform-secret")
    with BackgroundServer(receiver.app) as server:
        client.post(
            "/integrations/destinations",
            json={
                "tenantId": "t1",
                "connector": "typeform",
                "url": f"{server.url}/tf",
                "eventTypes": ["task.completed"],
                "credentials": {"typeformSecret": "shared-typeform-secret"},
            },
        )
        r = client.post(
            "/integrations/events",
            json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
        )
        [delivery] = r.json()["deliveryIds"]
        wait_delivery(client, delivery, "succeeded")
        [verdict] = receiver.wait_for("/tf", 1)
    assert verdict.signature_ok is True and verdict.problems == [] and verdict.ok


def test_task_to_qualtrics_destination_fits_schema(
    client: TestClient, qualtrics: tuple[FakeQualtrics, str]
) -> None:
    fake, base = qualtrics
    client.post(
        "/integrations/destinations",
        json={
            "tenantId": "t1",
            "connector": "qualtrics",
            "url": base,
            "eventTypes": ["task.completed"],
            "credentials": {"apiToken": DEFAULT_API_TOKEN},
            "options": {"surveyId": "SV_9xCtQ4mP7nR2kLs"},
        },
    )
    r = client.post(
        "/integrations/events",
        json={"tenantId": "t1", "type": "task.completed", "data": task_data()},
    )
    [delivery] = r.json()["deliveryIds"]
    body = wait_delivery(client, delivery, "succeeded")
    assert body["lastStatusCode"] == 200
    [created] = [q for q in fake.requests if q.method == "POST"]
    values = json.loads(created.body)["values"]
    assert values["QID1"] == 8  # NPS from the catalog example
    assert fake.created("SV_9xCtQ4mP7nR2kLs")  # the fake accepted it: every key in the schema
