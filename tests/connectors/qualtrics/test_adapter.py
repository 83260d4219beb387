"""connectors.qualtrics.adapter: the request, its preconditions, and Qualtrics' replies."""

from __future__ import annotations

import dataclasses
import json

import pytest

from connectors.qualtrics.adapter import ADAPTER
from gateway.adapters import Connector, ResponseInfo, Verdict
from gateway.catalog import catalog
from gateway.errors import MappingError
from gateway.models import ErrorClass
from gateway.registry import get_connector
from gateway.sandbox.fakes.qualtrics import FakeQualtrics, response_schema
from tests.connectors.golden import load_case


def test_adapter_implements_the_protocol() -> None:
    connector: Connector = ADAPTER
    assert connector.name == "qualtrics"
    assert connector.default_rate_limit_per_second is not None
    assert get_connector("qualtrics") is ADAPTER


def test_request() -> None:
    event, destination, now = load_case("qualtrics", "outbound_persona")
    request = ADAPTER.render(event, destination, now)
    assert request.method == "POST"
    assert request.url == (
        "https://acme.eu.qualtrics.com/API/v3/surveys/SV_9xCtQ4mP7nR2kLs/responses"
    )
    assert request.headers == {"X-API-TOKEN": "tok_test_123"}
    assert request.content_type == "application/json"
    assert (
        request.body
        == json.dumps(json.loads(request.body), separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert ADAPTER.render(event, destination, now) == request  # same bytes on every retry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"options": {}}, "options.surveyId is required"),
        ({"credentials": {}}, "credentials.apiToken is required"),
        ({"options": {"surveyId": "SV_a/../x"}}, "not a Qualtrics id"),
    ],
)
def test_render_preconditions(change: dict[str, dict[str, str]], message: str) -> None:
    event, destination, now = load_case("qualtrics", "outbound_persona")
    with pytest.raises(MappingError, match=message):
        changed = dataclasses.replace(
            destination,
            options=change.get("options", destination.options),
            credentials=change.get("credentials", destination.credentials),
        )
        ADAPTER.render(event, changed, now)


def test_response_schema_option_checks_values_before_sending() -> None:
    event, destination, now = load_case("qualtrics", "outbound_persona")
    survey = FakeQualtrics().surveys["SV_9xCtQ4mP7nR2kLs"]
    good = {**destination.options, "responseSchema": {"result": response_schema(survey)}}
    ADAPTER.render(event, dataclasses.replace(destination, options=good), now)
    other = FakeQualtrics().surveys["SV_bK3mQ9xT2vL7pNw"]  # QID4 is not a text entry there
    bad = {**destination.options, "responseSchema": {"result": response_schema(other)}}
    with pytest.raises(MappingError, match="QID4_TEXT: not a field"):
        ADAPTER.render(event, dataclasses.replace(destination, options=bad), now)


def test_other_event_types_are_refused() -> None:
    event, destination, now = load_case("qualtrics", "outbound_persona")
    with pytest.raises(MappingError, match="task.completed"):
        ADAPTER.render(
            dataclasses.replace(event, type="survey.response.completed"), destination, now
        )


OK = b'{"result":{"responseId":"R_1"},"meta":{"httpStatus":"200 - OK","requestId":"x"}}'
ERR = b'{"meta":{"httpStatus":"400 - Bad Request","error":{"errorMessage":"QID9: unknown"}}}'


@pytest.mark.parametrize(
    ("status", "body", "verdict", "reason"),
    [
        (200, OK, Verdict.SUCCESS, ""),  # created
        (200, OK[:20], Verdict.SUCCESS, ""),  # a cut body: the status decides
        (
            200,
            b'{"meta":{"httpStatus":"500 - Internal Server Error"}}',
            Verdict.FAIL,
            "Qualtrics says 500",
        ),  # an envelope that contradicts the status
        (401, b"", Verdict.FAIL, "refused the API token"),  # bad token: will not fix itself
        (403, b"", Verdict.FAIL, "refused the API token"),
        (400, ERR, Verdict.FAIL, "QID9: unknown"),  # a body error: the message is kept
        (429, b"", Verdict.RETRY, "rate limit"),  # leaky bucket full
        (404, b"", Verdict.RETRY, "HTTP 404"),  # the rest: classify_standard
        (500, b"", Verdict.RETRY, "HTTP 500"),
        (410, b"", Verdict.DISABLE, "410"),
    ],
)
def test_classify(status: int, body: bytes, verdict: Verdict, reason: str) -> None:
    _, destination, _ = load_case("qualtrics", "outbound_persona")
    outcome = ADAPTER.classify(ResponseInfo(status, {}, body), destination)
    assert outcome.verdict is verdict and reason in outcome.reason
    assert outcome.error_class == (None if verdict is Verdict.SUCCESS else ErrorClass.HTTP_STATUS)


def test_samples() -> None:
    example = catalog()["task.completed"].example  # the 5-question concept test
    values = ADAPTER.samples("task.completed", example)["values"]
    assert values["QID2"] == 2 and values["QID3"] == [1, 3] and values["QID5_1"] == 4
    with pytest.raises(MappingError):
        ADAPTER.samples("survey.response.completed", {})
