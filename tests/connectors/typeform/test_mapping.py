"""connectors.typeform.mapping: golden files both ways and the mapping rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connectors.typeform import mapping
from connectors.typeform.adapter import ADAPTER
from gateway.catalog import validate_event_data
from gateway.errors import MappingError
from tests.connectors.golden import (
    as_json,
    assert_golden,
    load_bytes,
    load_case,
    load_json,
)

OUTBOUND = ["outbound_persona", "outbound_defaults", "outbound_types"]
INBOUND = ["inbound_all_types", "inbound_persona"]


@pytest.mark.parametrize("case", OUTBOUND)
def test_outbound_golden(case: str) -> None:
    event, destination, now = load_case("typeform", case)
    validate_event_data(event.type, event.data)  # the inputs are valid task.completed data
    assert_golden("typeform", case, as_json(ADAPTER.render(event, destination, now)))


def test_outbound_persona_is_the_reference_body_byte_for_byte() -> None:
    # With the reference's field and choice ids, the rendered body is
    # samples/persona_typeform_webhook_body.json exactly, except the token (ours is derived
    # from the task id; the sample's was written by hand).
    event, destination, now = load_case("typeform", "outbound_persona")
    rendered = ADAPTER.render(event, destination, now)
    reference = load_bytes("typeform", "inbound_persona.json")
    payload = json.loads(rendered.body)
    assert payload["form_response"]["token"] != json.loads(reference)["form_response"]["token"]
    payload["form_response"]["token"] = json.loads(reference)["form_response"]["token"]
    assert mapping.encode_body(payload) == reference


@pytest.mark.parametrize("case", INBOUND)
def test_inbound_golden(case: str) -> None:
    payload = mapping.parse_webhook(load_bytes("typeform", f"{case}.json"))
    data = mapping.survey_data_from_webhook(payload, source_id="src_01JD6Q8M6Y7C3T9V2N4K5P8R1A")
    validate_event_data("survey.response.completed", data)
    assert_golden("typeform", case, data)


def test_inbound_covers_every_answer_type_of_the_reference_sample() -> None:
    data = mapping.survey_data_from_webhook(
        mapping.parse_webhook(load_bytes("typeform", "inbound_all_types.json")), source_id=None
    )
    types = {a["type"] for a in data["answers"]}
    assert types == {
        "text",
        "email",
        "phone_number",
        "date",
        "choice",
        "choices",
        "number",
        "boolean",
        "url",
        "file_url",
    }
    by_ref = {a["questionRef"]: a for a in data["answers"]}
    # multi-select "other" joins the labels; ranking keeps rank order
    assert by_ref["purchase_channels"]["value"] == ["Supermarket", "Coffee shop", "Farmers market"]
    assert by_ref["attribute_ranking"]["value"] == ["Taste", "Sustainability", "Price", "Nutrition"]


def test_responses_api_item_normalises_like_the_webhook() -> None:
    # reference §4: the Responses API item carries the same answers, no definition
    page = load_json("typeform", "responses_api_persona.json")
    item = mapping.survey_data_from_form_response(
        page["items"][0], source_id="src_x", form_id="Cn5pT8sQ"
    )
    hook = mapping.survey_data_from_webhook(
        mapping.parse_webhook(load_bytes("typeform", "inbound_persona.json")), source_id="src_x"
    )
    without_prompts = [{**a, "prompt": None} for a in hook["answers"]]
    assert item == {**hook, "answers": without_prompts}


def test_round_trip_rendered_body_normalises_to_the_task_answers() -> None:
    event, destination, now = load_case("typeform", "outbound_types")
    body = ADAPTER.render(event, destination, now).body
    data = mapping.survey_data_from_webhook(mapping.parse_webhook(body), source_id=None)
    answered = [a for a in event.data["results"]["answers"] if a["value"] is not None]
    assert [a["questionRef"] for a in data["answers"]] == [a["questionRef"] for a in answered]
    assert [a["prompt"] for a in data["answers"]] == [a["prompt"] for a in answered]
    assert data["hidden"]["task_id"] == event.data["taskId"]


def test_rendering_is_deterministic_and_ids_are_stable() -> None:
    event, destination, now = load_case("typeform", "outbound_defaults")
    first = ADAPTER.render(event, destination, now)
    assert ADAPTER.render(event, destination, now) == first
    body = json.loads(first.body)
    assert body["event_id"] == "01JD6Q8M6Y7C3T9V2N4K5P8R1A"  # the ULID of evt_…
    ids = [f["id"] for f in body["form_response"]["definition"]["fields"]]
    assert all(len(i) == 12 and i.isalnum() for i in ids) and len(set(ids)) == len(ids)
    assert len(body["form_response"]["form_id"]) == 8
    assert len(body["form_response"]["token"]) == 32


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("evt_01HXZ0B2C4D6E8F0G1H3J5K7M9", "01HXZ0B2C4D6E8F0G1H3J5K7M9"),  # ULID body reused
        ("evt_short", None),  # not a ULID: hashed to 26 Crockford chars
        ("ext-123", None),  # no prefix: hashed
    ],
)
def test_delivery_event_id(event_id: str, expected: str | None) -> None:
    got = mapping.delivery_event_id(event_id)
    assert len(got) == 26 and got == mapping.delivery_event_id(event_id)
    if expected is not None:
        assert got == expected


def task_with(answer: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(load_json("typeform", "outbound_defaults.json"))
    data = data["event"]["data"]
    data["results"]["answers"] = [answer]
    return data


@pytest.mark.parametrize(
    ("answer", "options", "message"),
    [
        # unknown answer type
        ({"questionId": "q", "type": "matrix", "value": 1}, {}, "has no Typeform field"),
        # a type override that cannot carry the answer
        (
            {"questionId": "q", "type": "nps", "value": 1},
            {"fields": {"q": {"type": "yes_no"}}},
            "cannot carry",
        ),
        # a number answer with a string value
        ({"questionId": "q", "type": "rating", "value": "4"}, {}, "not a Typeform number"),
        # booleans are not numbers
        ({"questionId": "q", "type": "nps", "value": True}, {}, "not a Typeform number"),
        # an option key the question does not offer
        (
            {
                "questionId": "q",
                "type": "single_choice",
                "value": "maybe",
                "options": [{"key": "yes", "label": "Yes"}],
            },
            {},
            "'maybe' is not one of",
        ),
        # two options on a single choice
        ({"questionId": "q", "type": "single_choice", "value": ["a", "b"]}, {}, "single choice"),
        # not a date
        ({"questionId": "q", "type": "date", "value": "last week"}, {}, "not a Typeform date"),
    ],
)
def test_render_refuses_what_typeform_cannot_express(
    answer: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        mapping.render_webhook(task_with(answer), event_id="E", options=options)


def test_choice_labels_come_from_option_labels_when_options_are_absent() -> None:
    data = task_with(
        {
            "questionId": "q",
            "questionRef": "drivers",
            "type": "multi_choice",
            "value": ["taste", "price"],
            "optionKeys": ["taste", "price"],
            "optionLabels": ["Taste", "Price"],
        }
    )
    body = mapping.render_webhook(data, event_id="E", options={})
    answer = body["form_response"]["answers"][0]
    assert answer["choices"]["labels"] == ["Taste", "Price"]
    assert answer["choices"]["refs"] == ["taste", "price"]


def test_datetime_value_becomes_a_typeform_date() -> None:
    data = task_with({"questionId": "q", "type": "date", "value": "2024-04-30T10:00:00Z"})
    answer = mapping.render_webhook(data, event_id="E", options={})["form_response"]["answers"][0]
    assert answer == {"type": "date", "date": "2024-04-30", "field": answer["field"]}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",  # not JSON at all
        b"[]",  # JSON but not an object
        b'{"event_type": "form_response"}',  # no form_response
        b'{"form_response": {}}',  # no event_type
        b"\xff\xfe",  # not UTF-8
    ],
)
def test_parse_webhook_rejects_non_webhooks(body: bytes) -> None:
    with pytest.raises(ValueError):
        mapping.parse_webhook(body)


def test_partial_responses_are_not_completed_responses() -> None:
    payload = json.loads(load_bytes("typeform", "inbound_persona.json"))
    payload["event_type"] = "form_response_partial"
    with pytest.raises(ValueError, match="not a completed response"):
        mapping.survey_data_from_webhook(payload, source_id=None)


def test_inbound_tolerates_old_and_unknown_shapes() -> None:
    # older payloads: choice without id/ref; dropdown as text; a future answer type; an answer
    # without a field; other-only choice
    form_response = {
        "form_id": "F",
        "token": "T",
        "submitted_at": "2018-01-18T18:17:02Z",
        "answers": [
            {"type": "choice", "choice": {"label": "London"}, "field": {"id": "a", "type": "x"}},
            {"type": "text", "text": "Paris", "field": {"id": "b", "type": "dropdown"}},
            {"type": "signature", "signature": {"url": "u"}, "field": {"id": "c"}},
            {"type": "text", "text": "orphan"},
            {"type": "choice", "choice": {"other": "Lyon"}, "field": {"id": "d", "ref": "city"}},
            {"type": "number", "field": {"id": "e"}},
        ],
    }
    data = mapping.survey_data_from_form_response(form_response, source_id=None)
    assert [(a["questionId"], a["value"]) for a in data["answers"]] == [
        ("a", "London"),
        ("b", "Paris"),
        ("c", {"url": "u"}),
        ("d", "Lyon"),
    ]
    assert data["landedAt"] is None and data["hidden"] == {}
    validate_event_data("survey.response.completed", data)


def test_typeform_event_id_is_per_response_not_per_delivery() -> None:
    first = mapping.typeform_event_id("src_1", "Cn5pT8sQ", "tok")
    assert first == mapping.typeform_event_id("src_1", "Cn5pT8sQ", "tok")
    assert first.startswith("evt_") and len(first) == 30
    assert first != mapping.typeform_event_id("src_2", "Cn5pT8sQ", "tok")
    assert first != mapping.typeform_event_id("src_1", "Cn5pT8sQ", "tok2")
