"""connectors.zapier: golden files, stable keys, transcript cutting and response classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors._shared import choice_label, encode_body
from connectors.zapier import mapping
from connectors.zapier.adapter import ADAPTER, MAX_BODY_BYTES
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

CASES = input_cases("zapier")
HOOK_URL = "https://hooks.zapier.com/hooks/standard/1234567/0a1b2c3d4e5f/"


def make_destination(url: str = HOOK_URL, **kwargs: Any) -> DestinationView:
    return platforms.destination("zapier", url, **kwargs)


# --- golden files ----------------------------------------------------------------------------


def test_every_platform_case_is_present() -> None:
    assert set(CASES) >= COMMON_CASES


@pytest.mark.parametrize("name", CASES)
def test_render_matches_the_golden_file(name: str) -> None:
    expected = assert_renders_golden(ADAPTER, name)
    # The sent bytes are compact UTF-8 JSON: one object, never a top-level array (§1.4).
    assert isinstance(expected, dict)


@pytest.mark.parametrize("name", [c for c in CASES if c != "long_transcript_cut"])
def test_samples_return_exactly_the_live_body(name: str) -> None:
    assert_samples_are_live(ADAPTER, name)


def test_samples_without_an_event_get_a_stable_synthetic_id() -> None:
    example = catalog()["task.completed"].example
    first = ADAPTER.samples("task.completed", example)
    assert first["id"] == "evt_sample_task_7f3c2a91"
    assert ADAPTER.samples("task.completed", example) == first


# --- shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("full", "other"), STABLE_KEY_CASES)
def test_key_set_is_stable_across_events_of_one_type(full: str, other: str) -> None:
    bodies = [load_expected("zapier", c) for c in (full, other)]
    assert list(bodies[0]) == list(bodies[1])  # same keys, same order
    assert all(
        set(t) == {"turn", "role", "text", "at"} for b in bodies for t in b.get("transcript", [])
    )


def test_scalars_come_first_and_only_the_transcript_is_a_list() -> None:
    body = ADAPTER.samples("task.completed", catalog()["task.completed"].example)
    assert list(body)[-1] == "transcript"
    assert [k for k, v in body.items() if isinstance(v, list | dict)] == ["transcript"]


def test_timestamps_carry_an_offset() -> None:
    data = {**catalog()["task.completed"].example, "startedAt": "2025-11-20T14:30:02"}
    body = ADAPTER.samples("task.completed", data)
    assert body["started_at"] == "2025-11-20T14:30:02Z"  # naive read as UTC
    assert body["completed_at"] == "2025-11-20T14:32:10Z"  # already has an offset: unchanged


@pytest.mark.parametrize(
    ("ref", "key"),
    [
        ("purchase_intent", "purchase_intent"),  # already snake_case
        ("purchaseIntent", "purchase_intent"),  # camelCase
        ("Purchase intent?", "purchase_intent"),  # a prompt-like ref
        ("a1b2-c3d4", "a1b2_c3d4"),  # a generated ref with dashes
        ("???", "field"),  # nothing usable left
    ],
)
def test_snake_key(ref: str, key: str) -> None:
    assert mapping.snake_key(ref) == key


def test_clashing_keys_get_a_suffix_instead_of_overwriting() -> None:
    data = {
        **catalog()["task.completed"].example,
        "results": {
            "answers": [
                {"questionId": "a", "questionRef": "nps", "type": "nps", "value": 1},
                {"questionId": "b", "questionRef": "NPS", "type": "nps", "value": 2},
            ]
        },
    }
    body = ADAPTER.samples("task.completed", data)
    assert (body["result_nps"], body["result_nps_2"]) == (1, 2)


def test_choice_label_falls_back_to_the_options_list() -> None:
    answer = {
        "type": "single_choice",
        "value": "b",
        "options": [{"key": "a", "label": "Apple"}, {"key": "b", "label": "Banana"}],
    }
    assert choice_label(answer, mapping.LIST_SEPARATOR) == "Banana"


def test_unknown_event_type_is_a_render_error() -> None:
    event = Event("evt_01", "ten_acme", "run.started", {}, NOW)
    with pytest.raises(MappingError, match="no mapping"):
        ADAPTER.render(event, make_destination(), NOW)


def test_no_signature_or_transport_headers_are_added() -> None:
    request = ADAPTER.render(
        task_event(catalog()["task.completed"].example), make_destination(), NOW
    )
    assert request.headers == {}  # webhook-*, user-agent, content-type come from the core


# --- payload cap ---------------------------------------------------------------------------


def test_a_huge_transcript_is_cut_to_fit_the_10_mb_cap() -> None:
    data = huge_transcript_data(turns=2500, chars=3000)  # ~15 MB as line items + text
    request = ADAPTER.render(task_event(data), make_destination(), NOW)
    body = json.loads(request.body)
    assert len(request.body) <= MAX_BODY_BYTES == ADAPTER.max_body_bytes
    assert body["transcript_truncated"] is True
    assert body["transcript_turn_count"] == 2500
    assert body["transcript_url"] == "https://api.person.run/tasks/task_7f3c2a91/turns"
    kept = len(body["transcript"])
    assert 0 < kept < 2500
    assert [t["turn"] for t in body["transcript"]] == list(range(1, kept + 1))  # a prefix
    assert body["transcript_text"].count("\n") == kept - 1
    # The largest prefix that fits: one more turn would not.
    one_more = mapping.map_task_completed(data, "evt_01", keep_turns=kept + 1)
    assert len(encode_body(one_more)) > MAX_BODY_BYTES


def test_options_max_body_bytes_lowers_the_cap() -> None:
    data = huge_transcript_data(turns=50, chars=100)
    destination = make_destination(options={"maxBodyBytes": 3000})
    request = ADAPTER.render(task_event(data), destination, NOW)
    assert len(request.body) <= 3000
    assert json.loads(request.body)["transcript_truncated"] is True


def test_when_nothing_fits_the_smallest_body_goes_to_the_core_cap_check() -> None:
    data = huge_transcript_data(turns=3, chars=100)
    destination = make_destination(options={"maxBodyBytes": 100})
    body = json.loads(ADAPTER.render(task_event(data), destination, NOW).body)
    assert (body["transcript"], body["transcript_text"], body["transcript_truncated"]) == (
        [],
        None,
        True,
    )


@pytest.mark.parametrize("value", [0, -1, "10", True, 1.5])
def test_a_bad_max_body_bytes_option_is_a_render_error(value: object) -> None:
    destination = make_destination(options={"maxBodyBytes": value})
    with pytest.raises(MappingError, match="maxBodyBytes"):
        ADAPTER.render(task_event(catalog()["task.completed"].example), destination, NOW)


def test_platform_limits() -> None:
    assert (ADAPTER.name, ADAPTER.max_body_bytes, ADAPTER.default_rate_limit_per_second) == (
        "zapier",
        10_000_000,
        30.0,
    )


# --- classify ------------------------------------------------------------------------------

CATCH_HOOK_OK = b'{"attempt":"a1","id":"i1","request_id":"r1","status":"success"}'


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # A REST hook or Catch Hook took it (Catch Hooks always answer this, §1.4).
        (200, CATCH_HOOK_OK, Outcome(Verdict.SUCCESS)),
        # Silent Mode answers an empty body; any 2xx is success.
        (204, b"", Outcome(Verdict.SUCCESS)),
        # The Zap was turned off or deleted: stop and delete the subscription (§1.1).
        (
            410,
            b"",
            Outcome(
                Verdict.DISABLE,
                "Zapier answered 410 Gone: the Zap was turned off or deleted",
                ErrorClass.HTTP_STATUS,
                remove_subscription=True,
            ),
        ),
        # Over 30 requests/s per hook: retry; the core honours Retry-After (§1.6).
        (
            429,
            b"",
            Outcome(Verdict.RETRY, "Zapier throttled the hook (429)", ErrorClass.HTTP_STATUS),
        ),
        # Too large: the same bytes never fit, so no retries.
        (
            413,
            b"",
            Outcome(
                Verdict.FAIL,
                "Zapier refused the payload as too large (413)",
                ErrorClass.HTTP_STATUS,
            ),
        ),
        # Anything else follows the standard rules: retried with backoff (§1.6 retry advice).
        (500, b"", Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS)),
        (404, b"", Outcome(Verdict.RETRY, "HTTP 404", ErrorClass.HTTP_STATUS)),
        # A redirect is a failure and is never followed (CONTRACT §4).
        (301, b"", Outcome(Verdict.RETRY, "HTTP 301", ErrorClass.HTTP_STATUS)),
    ],
)
def test_classify(status: int, body: bytes, expected: Outcome) -> None:
    assert ADAPTER.classify(response(status, body), make_destination()) == expected
