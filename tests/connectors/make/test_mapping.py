"""connectors.make: golden files, stable keys, transcript cutting and response classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors._shared import encode_body
from connectors.make import mapping
from connectors.make.adapter import ADAPTER, MAX_BODY_BYTES
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

CASES = input_cases("make")
HOOK_URL = "https://hook.eu1.make.com/abc123def456"


def make_destination(url: str = HOOK_URL, **kwargs: Any) -> DestinationView:
    return platforms.destination("make", url, **kwargs)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a nested body; list items share one ``[]`` path."""
    if isinstance(value, dict):
        paths = set()
        for key, item in value.items():
            paths |= {f"{prefix}.{key}"} | key_paths(item, f"{prefix}.{key}")
        return paths
    if isinstance(value, list):
        return set().union(*(key_paths(item, prefix + "[]") for item in value))
    return set()


# --- golden files ----------------------------------------------------------------------------


def test_every_platform_case_is_present() -> None:
    assert set(CASES) >= COMMON_CASES | {"task_completed_api_key"}


@pytest.mark.parametrize("name", CASES)
def test_render_matches_the_golden_file(name: str) -> None:
    expected = assert_renders_golden(ADAPTER, name)
    # One object per request = one bundle; never a top-level array (§2.1).
    assert isinstance(expected, dict)


@pytest.mark.parametrize("name", [c for c in CASES if c != "long_transcript_cut"])
def test_samples_return_exactly_the_live_body(name: str) -> None:
    assert_samples_are_live(ADAPTER, name)


def test_samples_without_an_event_get_a_stable_synthetic_id() -> None:
    example = catalog()["survey.response.completed"].example
    sample = ADAPTER.samples("survey.response.completed", example)
    assert sample["eventId"] == "evt_sample_a3a12ec67a1365927098a606107fac15"


# --- shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("full", "other"), STABLE_KEY_CASES)
def test_key_set_is_stable_across_events_of_one_type(full: str, other: str) -> None:
    # Make learns the mappable fields from the first bundle, so an optional key is never left out.
    bodies = [load_expected("make", c) for c in (full, other)]
    assert key_paths(bodies[0]) == key_paths(bodies[1])


def test_a_missing_optional_collection_is_still_a_collection_of_nulls() -> None:
    body = load_expected("make", "task_completed_minimal")
    assert body["skill"] == {"id": None, "name": None}
    assert body["links"] == {"task": None, "transcript": None}


def test_unknown_event_type_is_a_render_error() -> None:
    event = Event("evt_01", "ten_acme", "run.started", {}, NOW)
    with pytest.raises(MappingError, match="no mapping"):
        ADAPTER.render(event, make_destination(), NOW)


# --- headers -------------------------------------------------------------------------------


def test_only_the_api_key_header_is_added() -> None:
    event = task_event(catalog()["task.completed"].example)
    assert ADAPTER.render(event, make_destination(), NOW).headers == {}
    destination = make_destination(credentials={"apiKey": "k" * 512})
    assert ADAPTER.render(event, destination, NOW).headers == {"x-make-apikey": "k" * 512}


@pytest.mark.parametrize(
    "api_key",
    [
        "k" * 513,  # over Make's 512-character limit
        "clé",  # not ASCII
        "a\nb",  # would split the header
        42,  # not a string
    ],
)
def test_a_bad_api_key_is_a_render_error(api_key: object) -> None:
    destination = make_destination(credentials={"apiKey": api_key})
    with pytest.raises(MappingError, match="apiKey"):
        ADAPTER.render(task_event(catalog()["task.completed"].example), destination, NOW)


# --- payload cap ---------------------------------------------------------------------------


def test_a_huge_transcript_is_cut_to_fit_the_5_mb_cap() -> None:
    data = huge_transcript_data(turns=2500, chars=3000)  # ~7.5 MB of turns
    request = ADAPTER.render(task_event(data), make_destination(), NOW)
    body = json.loads(request.body)
    assert len(request.body) <= MAX_BODY_BYTES == ADAPTER.max_body_bytes
    assert body["transcriptTruncated"] is True
    assert body["transcriptTurnCount"] == 2500
    assert body["links"]["transcript"] == "https://api.person.run/tasks/task_7f3c2a91/turns"
    kept = len(body["transcript"])
    assert 0 < kept < 2500
    assert [t["turn"] for t in body["transcript"]] == list(range(1, kept + 1))  # a prefix
    one_more = mapping.map_task_completed(data, "evt_01", keep_turns=kept + 1)
    assert len(encode_body(one_more)) > MAX_BODY_BYTES  # the largest prefix that fits


def test_when_nothing_fits_the_smallest_body_goes_to_the_core_cap_check() -> None:
    data = huge_transcript_data(turns=3, chars=100)
    destination = make_destination(options={"maxBodyBytes": 100})
    body = json.loads(ADAPTER.render(task_event(data), destination, NOW).body)
    assert (body["transcript"], body["transcriptTruncated"]) == ([], True)


def test_platform_limits() -> None:
    assert (ADAPTER.name, ADAPTER.max_body_bytes, ADAPTER.default_rate_limit_per_second) == (
        "make",
        5_000_000,
        30.0,
    )


# --- classify ------------------------------------------------------------------------------

NO_SCENARIO = b"There is no scenario listening for this webhook."


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # No Webhook response module: Make queues the bundle and answers "Accepted" (§2.1).
        (200, b"Accepted", Outcome(Verdict.SUCCESS)),
        # A Webhook response module may answer any 2xx with any body.
        (201, b'{"ok":true}', Outcome(Verdict.SUCCESS)),
        # Deactivated webhook / no scenario listening: the destination is dead (§2.3).
        (
            410,
            NO_SCENARIO,
            Outcome(
                Verdict.DISABLE,
                "Make answered 410 Gone: the webhook was deactivated or no scenario listens to it"
                ": 'There is no scenario listening for this webhook.'",
                ErrorClass.HTTP_STATUS,
                remove_subscription=True,
            ),
        ),
        # One capture saw 410 with an empty body (§2.1).
        (
            410,
            b"",
            Outcome(
                Verdict.DISABLE,
                "Make answered 410 Gone: the webhook was deactivated or no scenario listens to it",
                ErrorClass.HTTP_STATUS,
                remove_subscription=True,
            ),
        ),
        # Over 300 requests per 10 s: retry; the core honours Retry-After (§2.3).
        (
            429,
            b"Too many requests",
            Outcome(Verdict.RETRY, "Make throttled the webhook (429)", ErrorClass.HTTP_STATUS),
        ),
        # Too large: the same bytes never fit, so no retries.
        (
            413,
            b"",
            Outcome(
                Verdict.FAIL, "Make refused the payload as too large (413)", ErrorClass.HTTP_STATUS
            ),
        ),
        # The oversize answer seen in the wild is Cloudflare's 502: standard retry (§2.3).
        (502, b"", Outcome(Verdict.RETRY, "HTTP 502", ErrorClass.HTTP_STATUS)),
        # A bad x-make-apikey (status unverified, §2.3): standard retry.
        (401, b"", Outcome(Verdict.RETRY, "HTTP 401", ErrorClass.HTTP_STATUS)),
        # A full queue (status unverified): standard retry.
        (400, b"Queue is full.", Outcome(Verdict.RETRY, "HTTP 400", ErrorClass.HTTP_STATUS)),
    ],
)
def test_classify(status: int, body: bytes, expected: Outcome) -> None:
    assert ADAPTER.classify(response(status, body), make_destination()) == expected
