"""connectors.n8n: golden files, stable keys, auth headers, transcript cutting, classification."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connectors._shared import encode_body
from connectors.n8n import mapping
from connectors.n8n.adapter import ADAPTER, MAX_BODY_BYTES
from gateway.adapters import Outcome, Verdict
from gateway.catalog import catalog
from gateway.errors import MappingError
from gateway.models import DestinationView, ErrorClass, Event
from tests.connectors import platforms
from tests.connectors.golden import input_cases, load_expected
from tests.connectors.platforms import (
    COMMON_CASES,
    NOW,
    STABLE_KEY_CASES,
    assert_renders_golden,
    assert_samples_are_live,
    huge_transcript_data,
    response,
    task_event,
)

CASES = input_cases("n8n")
PROD_URL = "https://n8n.example.com/webhook/task-completed"
TEST_URL = "https://n8n.example.com/webhook-test/task-completed"
NODE_URL = "https://n8n.example.com/webhook/0f4c1a2b-7d3e/webhook"  # community trigger node


def make_destination(url: str = PROD_URL, **kwargs: Any) -> DestinationView:
    return platforms.destination("n8n", url, **kwargs)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Key paths through nested objects (list items are the catalog's, passed through)."""
    if not isinstance(value, dict):
        return set()
    return set().union(
        *({f"{prefix}.{k}"} | key_paths(v, f"{prefix}.{k}") for k, v in value.items())
    )


FREE_FORM = (".data.skill.", ".data.links.", ".data.provenance.", ".data.hidden.", ".data.raw.")


def fixed_paths(body: dict[str, Any]) -> set[str]:
    return {p for p in key_paths(body) if not p.startswith(FREE_FORM)}


# --- golden files ----------------------------------------------------------------------------


def test_every_platform_case_is_present() -> None:
    assert set(CASES) >= COMMON_CASES | {"header_auth", "basic_auth"}


@pytest.mark.parametrize("name", CASES)
def test_render_matches_the_golden_file(name: str) -> None:
    assert_renders_golden(ADAPTER, name)


@pytest.mark.parametrize("name", CASES)
def test_data_still_validates_against_the_catalog_schema(name: str) -> None:
    body = load_expected("n8n", name)
    validator = Draft202012Validator(catalog()[body["type"]].schema)
    assert [e.message for e in validator.iter_errors(body["data"])] == []


@pytest.mark.parametrize("name", [c for c in CASES if c != "long_transcript_cut"])
def test_samples_return_exactly_the_live_body(name: str) -> None:
    assert_samples_are_live(ADAPTER, name)


# --- shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("full", "other"), STABLE_KEY_CASES)
def test_key_set_is_stable_across_events_of_one_type(full: str, other: str) -> None:
    bodies = [load_expected("n8n", c) for c in (full, other)]
    # Every key the catalog names is there; free-form objects (``links``, ``provenance``,
    # ``hidden``) and a null ``skill`` keep the catalog's shape, so their inner keys may differ.
    assert fixed_paths(bodies[0]) == fixed_paths(bodies[1])
    # Every turn and answer carries its optional keys too.
    for body in bodies:
        data = body["data"]
        answers = data.get("answers") or data["results"]["answers"]
        assert all({"questionRef", "prompt"} <= set(a) for a in answers)
        assert all("at" in t for t in data.get("turns", []))


def test_unknown_event_type_is_a_render_error() -> None:
    event = Event("evt_01", "ten_acme", "run.started", {}, NOW)
    with pytest.raises(MappingError, match="no mapping"):
        ADAPTER.render(event, make_destination(), NOW)


# --- auth headers --------------------------------------------------------------------------


def test_basic_auth_header() -> None:
    destination = make_destination(credentials={"username": "ada", "password": "pässword"})
    request = ADAPTER.render(task_event(catalog()["task.completed"].example), destination, NOW)
    token = request.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == "ada:pässword"
    assert list(request.headers) == ["Authorization"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"headerName": "X-API-Key", "headerValue": "v", "username": "u", "password": "p"},  # both
        {"headerName": "X API Key", "headerValue": "v"},  # not a header name
        {"headerName": "X-API-Key"},  # no value
        {"headerName": "X-API-Key", "headerValue": "a\r\nb"},  # would split the header
        {"username": "a:b", "password": "p"},  # ':' cannot be in a Basic user name
        {"username": "u"},  # no password
    ],
)
def test_bad_credentials_are_a_render_error(credentials: dict[str, Any]) -> None:
    destination = make_destination(credentials=credentials)
    with pytest.raises(MappingError, match="credentials"):
        ADAPTER.render(task_event(catalog()["task.completed"].example), destination, NOW)


# --- payload cap ---------------------------------------------------------------------------


def test_a_huge_transcript_is_cut_to_fit_the_16_mib_cap() -> None:
    data = huge_transcript_data(turns=2500, chars=8000)  # ~20 MB of turns
    request = ADAPTER.render(task_event(data), make_destination(), NOW)
    body = json.loads(request.body)
    assert len(request.body) <= MAX_BODY_BYTES == ADAPTER.max_body_bytes == 16 * 1024 * 1024
    assert body["transcriptTruncated"] is True
    assert body["data"]["links"]["transcript"] == "https://api.person.run/tasks/task_7f3c2a91/turns"
    kept = len(body["data"]["turns"])
    assert 0 < kept < 2500
    assert [t["index"] for t in body["data"]["turns"]] == list(range(1, kept + 1))  # a prefix
    one_more = mapping.map_task_completed(data, "evt_01", keep_turns=kept + 1)
    assert len(encode_body(one_more)) > MAX_BODY_BYTES  # the largest prefix that fits


def test_platform_limits() -> None:
    # No documented rate cap; options.rateLimitPerSecond sets one (the core applies it).
    assert (ADAPTER.name, ADAPTER.default_rate_limit_per_second) == ("n8n", None)


# --- classify ------------------------------------------------------------------------------

STARTED = b'{"message":"Workflow was started"}'
NOT_REGISTERED = (
    b'{"code":404,"message":"The requested webhook \\"POST task-completed\\" is not registered.",'
    b'"hint":"The workflow must be active for a production URL to run successfully."}'
)
NOT_REGISTERED_REASON = (
    "n8n workflow is not active: the webhook is not registered: "
    'The requested webhook "POST task-completed" is not registered.'
)
WRONG = b"Authorization data is wrong!"


def wrong_credential(code: int, text: str) -> Outcome:
    return Outcome(
        Verdict.FAIL,
        f"wrong credential: n8n refused the request ({code}){text}; "
        "fix the destination's credentials, then enable it",
        ErrorClass.HTTP_STATUS,
        max_attempts=1,
        disable_when_exhausted=True,
    )


def not_registered(max_attempts: int, reason: str = NOT_REGISTERED_REASON) -> Outcome:
    return Outcome(
        Verdict.RETRY,
        reason,
        ErrorClass.HTTP_STATUS,
        max_attempts=max_attempts,
        disable_when_exhausted=True,
    )


@pytest.mark.parametrize(
    ("url", "options", "status", "body", "expected"),
    [
        # onReceived (the default): n8n answers before the workflow runs (§3.1).
        (PROD_URL, {}, 200, STARTED, Outcome(Verdict.SUCCESS)),
        # lastNode / Respond to Webhook: any 2xx with any body is success.
        (PROD_URL, {}, 204, b"", Outcome(Verdict.SUCCESS)),
        # Wrong Header Auth: fail now, disable the destination; no retry storm (§9).
        (PROD_URL, {}, 403, WRONG, wrong_credential(403, ": Authorization data is wrong!")),
        # Missing Basic credentials answer 401 "Authorization is required!" (§3.1).
        (
            PROD_URL,
            {},
            401,
            b"Authorization is required!",
            wrong_credential(401, ": Authorization is required!"),
        ),
        # A test URL with a wrong credential is just as wrong.
        (TEST_URL, {}, 403, WRONG, wrong_credential(403, ": Authorization data is wrong!")),
        # Inactive workflow on a production URL: back off a few times, then disable (§4 rule 4).
        (PROD_URL, {}, 404, NOT_REGISTERED, not_registered(5)),
        # The same on a trigger node's URL, with the limit from options.
        (NODE_URL, {"notRegisteredMaxAttempts": 3}, 404, NOT_REGISTERED, not_registered(3)),
        # An unusable option falls back to the default of 5.
        (PROD_URL, {"notRegisteredMaxAttempts": 0}, 404, NOT_REGISTERED, not_registered(5)),
        # An empty 404 from a production URL (a proxy in front of n8n) counts the same.
        (
            PROD_URL,
            {},
            404,
            b"",
            not_registered(5, "n8n workflow is not active: the webhook is not registered"),
        ),
        # A custom N8N_ENDPOINT_WEBHOOK path is recognised by n8n's own answer.
        (
            "https://n8n.example.com/hooks/task-completed",
            {},
            404,
            NOT_REGISTERED,
            not_registered(5),
        ),
        # A test URL not listening: one attempt only, never disabled (§4 rule 4).
        (
            TEST_URL,
            {},
            404,
            NOT_REGISTERED,
            Outcome(
                Verdict.RETRY,
                "n8n test URL is not listening",
                ErrorClass.HTTP_STATUS,
                max_attempts=1,
            ),
        ),
        # Any other failure on a test URL is not retried for long either.
        (
            TEST_URL,
            {},
            500,
            b"",
            Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS, max_attempts=1),
        ),
        # Over N8N_PAYLOAD_SIZE_MAX: the same bytes never fit (§3.1).
        (
            PROD_URL,
            {},
            413,
            b"",
            Outcome(
                Verdict.FAIL, "n8n refused the payload as too large (413)", ErrorClass.HTTP_STATUS
            ),
        ),
        # Cloud throttling or a busy instance: standard retry, Retry-After honoured (§3.1).
        (PROD_URL, {}, 429, b"", Outcome(Verdict.RETRY, "HTTP 429", ErrorClass.HTTP_STATUS)),
        (PROD_URL, {}, 503, b"", Outcome(Verdict.RETRY, "HTTP 503", ErrorClass.HTTP_STATUS)),
        # A 404 from some other server is an ordinary failure.
        (
            "https://example.com/hooks/x",
            {},
            404,
            b"Not Found",
            Outcome(Verdict.RETRY, "HTTP 404", ErrorClass.HTTP_STATUS),
        ),
    ],
)
def test_classify(
    url: str, options: dict[str, Any], status: int, body: bytes, expected: Outcome
) -> None:
    destination = make_destination(url, options=options)
    assert ADAPTER.classify(response(status, body), destination) == expected
