"""connectors.qualtrics.mapping: golden files both ways, key naming, recodes, schema checks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.qualtrics import mapping
from connectors.qualtrics.adapter import ADAPTER
from gateway.catalog import validate_event_data
from gateway.errors import MappingError
from gateway.sandbox.fakes.qualtrics import FakeQualtrics, response_schema
from tests.connectors.golden import as_json, assert_golden, load_case, load_json

OUTBOUND = ["outbound_persona", "outbound_key_rules"]
INBOUND = [
    # (case, survey id from its callback fixture)
    ("inbound_response_full", "SV_bK3mQ9xT2vL7pNw"),
    ("inbound_persona", "SV_9xCtQ4mP7nR2kLs"),
]
SCHEMAS = {
    sid: {"result": response_schema(s), "meta": {"httpStatus": "200 - OK"}}
    for sid, s in FakeQualtrics().surveys.items()
}


@pytest.mark.parametrize("case", OUTBOUND)
def test_outbound_golden(case: str) -> None:
    event, destination, now = load_case("qualtrics", case)
    validate_event_data(event.type, event.data)
    rendered = ADAPTER.render(event, destination, now)
    assert_golden("qualtrics", case, as_json(rendered))
    # every key is legal for the survey (its response schema, as the fake serves it)
    survey = destination.options["surveyId"]
    assert (
        mapping.check_values_against_schema(as_json(rendered)["body"]["values"], SCHEMAS[survey])
        == []
    )


def test_outbound_persona_is_the_reference_request() -> None:
    # the default mapping reproduces samples/persona_qualtrics_create_response_request.json
    event, destination, now = load_case("qualtrics", "outbound_persona")
    body = as_json(ADAPTER.render(event, destination, now))["body"]
    reference = load_json("qualtrics", "persona_create_response_request.json")
    assert body == reference and list(body["values"]) == list(reference["values"])


def test_key_naming_rules() -> None:
    event, destination, now = load_case("qualtrics", "outbound_key_rules")
    values = as_json(ADAPTER.render(event, destination, now))["body"]["values"]
    assert values["QID1"] == 2  # MC single: the recode of "sometimes"
    assert values["QID2"] == [1, 3]  # MC multi: array of recodes in answer order
    assert values["QID3_TEXT"].startswith("Too sweet")  # text entry
    assert (values["QID4_1"], values["QID4_2"], values["QID4_3"]) == (5, 3, 4)  # matrix rows
    assert values["QID5_1"] == 72  # slider statement 1
    assert values["QID6"] == 9  # NPS; QID6_NPS_GROUP is Qualtrics' to derive
    assert not any(k.endswith(("_DO", "_NPS_GROUP")) for k in values)
    assert "not_in_survey" not in str(values)  # skipUnmapped
    # the same answers as samples/qualtrics_response_full.json, key for key (QID7 unmapped)
    reference = load_json("qualtrics", "inbound_response_full.json")["result"]["values"]
    answers = {k: v for k, v in reference.items() if k.startswith("QID") and "_DO" not in k}
    answers = {k: v for k, v in answers.items() if "NPS" not in k and not k.startswith("QID7")}
    assert {k: v for k, v in values.items() if k.startswith("QID")} == answers


@pytest.mark.parametrize(("case", "survey_id"), INBOUND)
def test_inbound_golden(case: str, survey_id: str) -> None:
    response = load_json("qualtrics", f"{case}.json")
    data = mapping.survey_data_from_response(
        response, survey_id=survey_id, source_id="src_01JD6Q8M6Y7C3T9V2N4K5P8R1A"
    )
    validate_event_data("survey.response.completed", data)
    assert_golden("qualtrics", case, data)


def test_inbound_with_the_mapping_names_questions_by_ref() -> None:
    response = load_json("qualtrics", "inbound_persona.json")
    data = mapping.survey_data_from_response(
        response,
        survey_id="SV_9xCtQ4mP7nR2kLs",
        source_id=None,
        questions=mapping.DEFAULT_QUESTIONS,
    )
    assert [(a["questionRef"], a["type"]) for a in data["answers"]] == [
        ("nps", "number"),
        ("purchase_intent", "choice"),
        ("appeal_drivers", "choices"),
        ("open_feedback", "text"),
        ("overall_rating", "number"),
    ]
    # without labels, the mapping turns recodes back into option keys
    del response["result"]["labels"]
    data = mapping.survey_data_from_response(
        response,
        survey_id="SV_9xCtQ4mP7nR2kLs",
        source_id=None,
        questions=mapping.DEFAULT_QUESTIONS,
    )
    assert data["answers"][1]["value"] == "probably"
    assert data["answers"][2]["value"] == ["taste", "sustainability"]


def test_inbound_reads_export_dates_and_skips_paradata() -> None:
    response = {
        "responseId": "R_1",
        "values": {
            "startDate": "2023-03-31 15:30:00",
            "endDate": "2023-03-31 15:31:53",
            "QID9_FIRST_CLICK": 2.027,
            "QID9_PAGE_SUBMIT": 3.1,
            "QID10_BROWSER": "Safari",
            "QID11_1": "Yy",
            "QID12": True,
            "Audience": "3",
        },
    }
    data = mapping.survey_data_from_response(response, survey_id="SV_x", source_id=None)
    assert (data["landedAt"], data["submittedAt"]) == (
        "2023-03-31T15:30:00Z",
        "2023-03-31T15:31:53Z",
    )
    assert [(a["questionId"], a["type"]) for a in data["answers"]] == [
        ("QID11_1", "text"),
        ("QID12", "boolean"),
    ]
    assert data["hidden"] == {"Audience": "3"}


@pytest.mark.parametrize(
    "response",
    [
        {"result": {"values": {"endDate": "2024-01-01T00:00:00Z"}}},  # no responseId
        {"result": {"responseId": "R_1"}},  # no values
        {"result": {"responseId": "R_1", "values": {"QID1": 1}}},  # no end date
    ],
)
def test_inbound_refuses_incomplete_replies(response: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        mapping.survey_data_from_response(response, survey_id="SV_x", source_id=None)


def task(*answers: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(load_json("qualtrics", "outbound_persona.json"))
    data = data["event"]["data"]
    data["results"]["answers"] = list(answers)
    return data


def render(data: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    recorded = datetime(2024, 5, 14, 16, 21, 9, tzinfo=UTC)
    values: dict[str, Any] = mapping.render_values(data, options=options, recorded_at=recorded)[
        "values"
    ]
    return values


@pytest.mark.parametrize(
    ("answer", "questions", "message"),
    [
        # a choice without a recode in the mapping: never guessed from position
        (
            {
                "questionId": "q",
                "questionRef": "purchase_intent",
                "type": "single_choice",
                "value": "maybe",
            },
            None,
            "option 'maybe' has no recode",
        ),
        (
            {
                "questionId": "q",
                "questionRef": "appeal_drivers",
                "type": "multi_choice",
                "value": ["taste", "smell"],
            },
            None,
            "option 'smell' has no recode",
        ),
        # a question the default mapping does not know
        (
            {"questionId": "q", "questionRef": "colour", "type": "free_text", "value": "red"},
            None,
            "'colour' has no Qualtrics question in the default mapping",
        ),
        # ... nor an explicit one
        (
            {"questionId": "q", "questionRef": "colour", "type": "free_text", "value": "red"},
            {"nps": {"qid": "QID1", "kind": "nps"}},
            "in options.questions",
        ),
        # NPS out of range / not whole / not a number
        ({"questionId": "q", "questionRef": "nps", "type": "nps", "value": 11}, None, "0..10"),
        ({"questionId": "q", "questionRef": "nps", "type": "nps", "value": 7.5}, None, "whole"),
        (
            {"questionId": "q", "questionRef": "nps", "type": "nps", "value": "7"},
            None,
            "not a number",
        ),
        # text entry needs text
        (
            {"questionId": "q", "questionRef": "open_feedback", "type": "free_text", "value": 3},
            None,
            "needs a string",
        ),
        # two options for a single answer
        (
            {
                "questionId": "q",
                "questionRef": "purchase_intent",
                "type": "multi_choice",
                "value": ["probably", "not_sure"],
            },
            None,
            "2 options for a single answer",
        ),
        # a matrix row answered with a number its recodes do not list
        (
            {"questionId": "q", "questionRef": "row", "type": "rating", "value": 9},
            {"row": {"qid": "QID4", "kind": "matrix", "recodes": {"1": 1, "2": 2}}},
            "option '9' has no recode",
        ),
    ],
)
def test_render_refuses(
    answer: dict[str, Any], questions: dict[str, Any] | None, message: str
) -> None:
    options = {"surveyId": "SV_9xCtQ4mP7nR2kLs"}
    if questions is not None:
        options["questions"] = questions  # type: ignore[assignment]
    with pytest.raises(MappingError, match=message):
        render(task(answer), options)


def test_unanswered_questions_are_absent_not_null() -> None:
    values = render(
        task(
            {"questionId": "q", "questionRef": "open_feedback", "type": "free_text", "value": None},
            {
                "questionId": "q",
                "questionRef": "appeal_drivers",
                "type": "multi_choice",
                "value": [],
            },
        ),
        {},
    )
    assert not any(k.startswith("QID") for k in values)


def test_numbers_through_scale_kinds() -> None:
    questions = {
        "rating": {"qid": "QID7", "kind": "number"},  # MC scale read as its number
        "stars": {"qid": "QID8", "kind": "number", "recodes": {"4": 14}},  # ... or its recode
        "agree": {"qid": "QID9", "kind": "matrix", "statement": "2", "recodes": {"yes": 1}},
    }
    values = render(
        task(
            {"questionId": "a", "questionRef": "rating", "type": "rating", "value": 4},
            {"questionId": "b", "questionRef": "stars", "type": "rating", "value": 4.0},
            {"questionId": "c", "questionRef": "agree", "type": "single_choice", "value": "yes"},
        ),
        {"questions": questions},
    )
    assert (values["QID7"], values["QID8"], values["QID9_2"]) == (4, 14, 1)


def test_provenance_can_be_left_out() -> None:
    values = render(task(), {"provenance": False})
    assert not set(mapping.EMBEDDED_PROVENANCE) & set(values)


def test_provenance_and_timing() -> None:
    data = task()
    data["provenance"] = {"synthetic": False}
    data.pop("startedAt")
    values = render(data, {})
    assert values["synthetic"] == "false"
    assert values["startDate"] == "2024-05-14T16:14:50Z"  # createdAt when startedAt is absent
    assert values["duration"] == 378


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({"QID1": 7, "QID4_TEXT": "x", "study_id": "s"}, []),  # all legal
        ({"QID9": 1}, ["QID9: not a field of this survey"]),  # unknown question
        ({"QID2": 9}, ["QID2: 9 is not one of [1, 2, 3, 4, 5]"]),  # not a recode
        ({"QID1": 11}, ["QID1: 11 is greater than the maximum of 10"]),
        ({"QID1_NPS_GROUP": 2}, ["QID1_NPS_GROUP: derived by Qualtrics, do not send it"]),
        ({"QID2_DO": ["1"]}, ["QID2_DO: derived by Qualtrics, do not send it"]),
        ({"QID3": [1, 1]}, ["QID3: [1, 1] has non-unique elements"]),
    ],
)
def test_check_values_against_schema(values: dict[str, Any], problems: list[str]) -> None:
    assert mapping.check_values_against_schema(values, SCHEMAS["SV_9xCtQ4mP7nR2kLs"]) == problems


def test_check_values_accepts_the_bare_schema_and_reports_a_broken_one() -> None:
    bare = SCHEMAS["SV_9xCtQ4mP7nR2kLs"]["result"]
    assert mapping.check_values_against_schema({"QID1": 1}, bare) == []
    assert mapping.check_values_against_schema({"QID1": 1}, {"result": {}}) == [
        "the response schema has no properties.values.properties"
    ]


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://acme.eu.qualtrics.com", "https://acme.eu.qualtrics.com"),
        ("https://acme.eu.qualtrics.com/", "https://acme.eu.qualtrics.com"),
        ("https://acme.eu.qualtrics.com/API/v3/", "https://acme.eu.qualtrics.com"),
    ],
)
def test_urls(base: str, expected: str) -> None:
    assert mapping.responses_url(base, "SV_a1") == f"{expected}/API/v3/surveys/SV_a1/responses"
    fetch = mapping.response_request(base, "tok", "SV_a1", "R_b2")
    assert (fetch.method, fetch.url, fetch.headers, fetch.body) == (
        "GET",
        f"{expected}/API/v3/surveys/SV_a1/responses/R_b2",
        {"X-API-TOKEN": "tok"},
        b"",
    )
    schema = mapping.response_schema_request(base, "tok", "SV_a1")
    assert schema.url == f"{expected}/API/v3/surveys/SV_a1/response-schema"


@pytest.mark.parametrize(
    ("survey_id", "response_id"),
    [("SV_a/../b", "R_1"), ("SV_a", "R_1?x=1"), ("../SV_a", "R_1"), ("SV_a", "")],
)
def test_ids_in_paths_are_checked(survey_id: str, response_id: str) -> None:
    with pytest.raises(MappingError):
        mapping.response_request("https://x.qualtrics.com", "tok", survey_id, response_id)


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        ({"surveyId": "SV_9xCtQ4mP7nR2kLs"}, []),  # the default mapping
        ({}, ["options.surveyId: a Qualtrics survey id (SV_...) is required"]),
        (
            {"surveyId": "SV_a", "questions": []},
            ["options.questions: an object of questionRef -> {qid, kind}"],
        ),
        (
            {
                "surveyId": "SV_a",
                "questions": {"q": {"qid": "Q1", "kind": "likert", "recodes": [1]}},
            },
            [
                "options.questions.q.qid: a question id like QID2",
                "options.questions.q.kind: one of nps, single, multi, text, slider, matrix, number",
                "options.questions.q.recodes: an object of optionKey -> recode",
            ],
        ),
    ],
)
def test_check_options(options: dict[str, Any], problems: list[str]) -> None:
    assert mapping.check_options(options) == problems


def test_qualtrics_event_id_is_per_response() -> None:
    first = mapping.qualtrics_event_id("src_1", "SV_a", "R_b")
    assert first == mapping.qualtrics_event_id("src_1", "SV_a", "R_b")
    assert first != mapping.qualtrics_event_id("src_1", "SV_a", "R_c")
    assert first.startswith("evt_")
