"""gateway.sandbox.fakes.typeform: accepts real Typeform bodies and ours, and catches faults."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from connectors.typeform.adapter import ADAPTER
from connectors.typeform.mapping import encode_body
from connectors.typeform.verify import sign_typeform
from gateway.sandbox.fakes.typeform import TypeformReceiver, check_webhook
from tests.connectors.golden import load_bytes, load_case

SECRET = "test-secret"


@pytest.fixture
def receiver() -> TypeformReceiver:
    fake = TypeformReceiver()
    fake.expect_secret("/hooks/typeform", SECRET)
    return fake


@pytest.fixture
def client(receiver: TypeformReceiver) -> Iterator[TestClient]:
    with TestClient(receiver.app) as http:
        yield http


def post(client: TestClient, body: bytes, signature: str | None) -> int:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["Typeform-Signature"] = signature
    status: int = client.post("/hooks/typeform", content=body, headers=headers).status_code
    return status


@pytest.mark.parametrize("name", ["inbound_all_types.json", "inbound_persona.json"])
def test_real_typeform_bodies_pass(
    client: TestClient, receiver: TypeformReceiver, name: str
) -> None:
    # the reference samples are what Typeform sends: the fake must find nothing wrong
    body = load_bytes("typeform", name)
    assert post(client, body, sign_typeform(body, SECRET)) == 200
    verdict = receiver.on("/hooks/typeform")[0]
    assert verdict.ok and verdict.signature_ok and verdict.problems == []


@pytest.mark.parametrize("case", ["outbound_persona", "outbound_defaults", "outbound_types"])
def test_our_rendered_bodies_pass(
    client: TestClient, receiver: TypeformReceiver, case: str
) -> None:
    event, destination, now = load_case("typeform", case)
    request = ADAPTER.render(event, destination, now)
    signature = sign_typeform(request.body, SECRET)  # the receiver's secret for this path
    assert post(client, request.body, signature) == 200, receiver.verdicts[-1].problems
    verdict = receiver.verdicts[-1]
    assert verdict.ok and verdict.event_id == json.loads(request.body)["event_id"]


def test_bad_signature_is_401(client: TestClient, receiver: TypeformReceiver) -> None:
    body = load_bytes("typeform", "inbound_persona.json")
    assert post(client, body + b"\n", sign_typeform(body, SECRET)) == 401
    assert post(client, body, None) == 401
    assert [v.signature_ok for v in receiver.verdicts] == [False, False]


def test_duplicates_and_scripts(client: TestClient, receiver: TypeformReceiver) -> None:
    body = load_bytes("typeform", "inbound_persona.json")
    receiver.script("/hooks/typeform", 503)
    assert post(client, body, sign_typeform(body, SECRET)) == 503
    assert post(client, body, sign_typeform(body, SECRET)) == 200
    assert [v.duplicate for v in receiver.verdicts] == [False, True]
    listed = client.get("/_fake/verdicts").json()
    assert [v["status"] for v in listed] == [503, 200]


def persona() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(load_bytes("typeform", "inbound_persona.json"))
    return payload


def mutate(path: str, value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(persona())
    target: Any = payload
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return payload


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        # an answer pointing at a field the definition lacks
        ("form_response.answers.0.field.id", "nope", "not in definition.fields"),
        # value key differs from type
        ("form_response.answers.0.type", "text", "does not answer a nps field"),
        # value key missing
        ("form_response.answers.0.number", _DELETE, "value key 'number' is missing"),
        # number as string
        ("form_response.answers.0.number", "7", "number must be a number"),
        # field type differs from the definition
        ("form_response.answers.0.field.type", "rating", "definition says 'nps'"),
        # single choice on a multi-select field
        ("form_response.answers.2.type", "choice", "does not answer a multiple_choice field"),
        # a choice id the field does not offer
        ("form_response.answers.1.choice.id", "zzz", "not one of the field's choices"),
        # a choice label that differs from the definition
        ("form_response.answers.1.choice.label", "Maybe", "label 'Maybe' differs"),
        # ids not paired with labels
        ("form_response.answers.2.choices.ids", ["Ad1Tst5Xa9Kq"], "must pair with labels"),
        # hidden fields are strings in Typeform
        ("form_response.hidden.synthetic", True, "hidden: values must be strings"),
        # timestamps
        ("form_response.submitted_at", "yesterday", "submitted_at: not an ISO 8601 time"),
        # definition id must be the form id
        ("form_response.form_id", "other", "definition.id differs"),
        ("event_id", _DELETE, "event_id: missing"),
        ("event_type", "form_submitted", "event_type"),
    ],
)
def test_check_webhook_catches(path: str, value: Any, problem: str) -> None:
    problems = check_webhook(mutate(path, value))
    assert any(problem in p for p in problems), problems


def test_shape_problems_answer_400(client: TestClient, receiver: TypeformReceiver) -> None:
    body = encode_body(mutate("form_response.answers.0.field.id", "nope"))
    assert post(client, body, sign_typeform(body, SECRET)) == 400
    assert receiver.verdicts[0].signature_ok and not receiver.verdicts[0].ok


def test_unsigned_paths_skip_the_signature(receiver: TypeformReceiver) -> None:
    with TestClient(receiver.app) as client:
        status = client.post("/other", content=load_bytes("typeform", "inbound_persona.json"))
    assert status.status_code == 200 and receiver.on("/other")[0].signature_ok is None
