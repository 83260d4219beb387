"""gateway.sandbox.fakes.qualtrics: Qualtrics' routes and shapes, and the connector against them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from connectors.qualtrics import mapping
from connectors.qualtrics.adapter import ADAPTER
from connectors.qualtrics.verify import is_completed_response, parse_qualtrics_callback
from gateway.adapters import ResponseInfo, Verdict
from gateway.models import DestinationView
from gateway.sandbox.fakes.qualtrics import DEFAULT_API_TOKEN, FakeQualtrics, completed_callback
from tests.connectors.golden import load_bytes, load_case, load_json

AUTH = {"X-API-TOKEN": DEFAULT_API_TOKEN}
BASE = "http://testserver"


@pytest.fixture
def fake() -> FakeQualtrics:
    return FakeQualtrics()


@pytest.fixture
def client(fake: FakeQualtrics) -> Iterator[TestClient]:
    with TestClient(fake.app, base_url=BASE) as http:
        yield http


@pytest.mark.parametrize(
    ("survey_id", "response_id", "sample"),
    [
        ("SV_9xCtQ4mP7nR2kLs", "R_3dW8vB1nM6qZ2yH", "inbound_persona.json"),
        ("SV_bK3mQ9xT2vL7pNw", "R_2aX9kLmQ4pZ7tVy", "inbound_response_full.json"),
    ],
)
def test_seeded_responses_are_the_reference_samples(
    client: TestClient, survey_id: str, response_id: str, sample: str
) -> None:
    # labels, _DO, _NPS_GROUP, displayedFields and displayedValues are derived by the fake
    # exactly as the reference captures show them
    reply = client.get(f"/API/v3/surveys/{survey_id}/responses/{response_id}", headers=AUTH)
    assert reply.status_code == 200
    assert reply.json()["result"] == load_json("qualtrics", sample)["result"]
    assert reply.json()["meta"]["httpStatus"] == "200 - OK"


def test_response_schema_lists_every_legal_key(client: TestClient) -> None:
    reply = client.get("/API/v3/surveys/SV_bK3mQ9xT2vL7pNw/response-schema", headers=AUTH)
    keys = set(reply.json()["result"]["properties"]["values"]["properties"])
    assert {
        "QID1",
        "QID1_DO",
        "QID2",
        "QID3_TEXT",
        "QID4_1",
        "QID4_3",
        "QID5_1",
        "QID6",
        "QID6_NPS_GROUP",
        "QID7_4_TEXT",
        "respondent_ref",
        "distributionChannel",
    } <= keys
    assert "QID3" not in keys and "QID8" not in keys


def test_create_then_fetch_round_trip(client: TestClient, fake: FakeQualtrics) -> None:
    # the connector's request against the fake, then the inbound path on what it stored
    event, destination, now = load_case("qualtrics", "outbound_persona")
    destination = dataclasses.replace(
        destination, url=BASE, credentials={"apiToken": DEFAULT_API_TOKEN}
    )
    request = ADAPTER.render(event, destination, now)
    reply = client.post(
        request.url,
        content=request.body,
        headers={**request.headers, "content-type": request.content_type},
    )
    outcome = ADAPTER.classify(
        ResponseInfo(reply.status_code, reply.headers, reply.content), destination
    )
    assert outcome.verdict is Verdict.SUCCESS, reply.json()
    shape = load_json("qualtrics", "persona_create_response_result.json")  # reference envelope
    assert {k: set(v) for k, v in reply.json().items()} == {k: set(v) for k, v in shape.items()}
    response_id = reply.json()["result"]["responseId"]
    assert response_id.startswith("R_") and len(response_id) == 17
    assert list(fake.created("SV_9xCtQ4mP7nR2kLs")) == [response_id]

    fetch = mapping.response_request(BASE, DEFAULT_API_TOKEN, "SV_9xCtQ4mP7nR2kLs", response_id)
    got = client.get(fetch.url, headers=fetch.headers).json()
    reference = load_json("qualtrics", "inbound_persona.json")["result"]
    assert {**got["result"], "responseId": "R_3dW8vB1nM6qZ2yH"} == reference
    data = mapping.survey_data_from_response(
        got, survey_id="SV_9xCtQ4mP7nR2kLs", source_id=None, questions=mapping.DEFAULT_QUESTIONS
    )
    by_ref = {a["questionRef"]: a["value"] for a in data["answers"]}
    assert by_ref["purchase_intent"] == "Probably would buy" and by_ref["nps"] == 7


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"QID9": 1}, "QID9: not a field of survey"),  # unknown key
        ({"QID2": 7}, "QID2: 7 is not one of"),  # not a recode
        ({"QID1_NPS_GROUP": 2}, "derived by Qualtrics"),  # derived key
        ({"QID4": "text without _TEXT"}, "QID4: not a field"),  # text entry key naming
    ],
)
def test_create_rejects_bad_values(
    client: TestClient, values: dict[str, object], problem: str
) -> None:
    reply = client.post(
        "/API/v3/surveys/SV_9xCtQ4mP7nR2kLs/responses", json={"values": values}, headers=AUTH
    )
    assert reply.status_code == 400
    assert problem in reply.json()["meta"]["error"]["errorMessage"]
    outcome = ADAPTER.classify(ResponseInfo(400, reply.headers, reply.content), _destination())
    assert outcome.verdict is Verdict.FAIL and problem in outcome.reason


def _destination() -> DestinationView:
    return load_case("qualtrics", "outbound_persona")[1]


def test_token_body_and_unknown_ids(client: TestClient) -> None:
    path = "/API/v3/surveys/SV_9xCtQ4mP7nR2kLs/responses"
    assert client.post(path, json={"values": {}}, headers={"X-API-TOKEN": "bad"}).status_code == 401
    assert client.post(path, content=b"[]", headers=AUTH).status_code == 400
    assert client.post(path, json={"values": {}}, headers=AUTH).status_code == 200  # minimum body
    assert client.get(path + "/R_nope", headers=AUTH).status_code == 404
    assert client.get("/API/v3/surveys/SV_nope/response-schema", headers=AUTH).status_code == 404


def test_scripted_failures_and_records(client: TestClient, fake: FakeQualtrics) -> None:
    fake.fail_next(429, route="create", retry_after=7)
    path = "/API/v3/surveys/SV_9xCtQ4mP7nR2kLs/responses"
    throttled = client.post(path, json={"values": {}}, headers=AUTH)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
    assert (
        ADAPTER.classify(
            ResponseInfo(429, throttled.headers, throttled.content), _destination()
        ).verdict
        is Verdict.RETRY
    )
    # a scripted GET failure does not touch creates
    client.post("/_fake/failures", json={"status": 503, "route": "get"})
    assert client.post(path, json={"values": {}}, headers=AUTH).status_code == 200
    assert client.get(path + "/R_3dW8vB1nM6qZ2yH", headers=AUTH).status_code == 503
    assert client.get(path + "/R_3dW8vB1nM6qZ2yH", headers=AUTH).status_code == 200
    statuses = [r["status"] for r in client.get("/_fake/requests").json()]
    assert statuses == [429, 200, 503, 200]
    assert fake.requests[0].headers["x-api-token"] == DEFAULT_API_TOKEN


@pytest.mark.parametrize(
    ("fixture", "shared_key"),
    [
        ("persona_callback_plain.txt", None),
        ("persona_callback_signed.txt", "test-shared-key"),
    ],
)
def test_completed_callback_is_the_reference_body(fixture: str, shared_key: str | None) -> None:
    body = completed_callback("SV_9xCtQ4mP7nR2kLs", "R_3dW8vB1nM6qZ2yH", shared_key=shared_key)
    assert body == load_bytes("qualtrics", fixture)


@pytest.mark.parametrize("shared_key", [None, "test-shared-key"])
def test_inbound_pipeline(client: TestClient, shared_key: str | None) -> None:
    # what /ingest/qualtrics does: parse the callback, fetch, normalise
    body = load_bytes("qualtrics", "callback_signed.txt" if shared_key else "callback_plain.txt")
    callback = parse_qualtrics_callback(body, shared_key)
    assert is_completed_response(callback)
    fetch = mapping.response_request(
        BASE, DEFAULT_API_TOKEN, callback["SurveyID"], callback["ResponseID"]
    )
    reply = client.get(fetch.url, headers=fetch.headers)
    data = mapping.survey_data_from_response(
        reply.json(), survey_id=callback["SurveyID"], source_id="src_01JD6Q8M6Y7C3T9V2N4K5P8R1A"
    )
    assert data == load_json("qualtrics", "inbound_response_full.expected.json")
