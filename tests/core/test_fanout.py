"""The pure core: Retry-After, standard classification, fan-out matching, ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway import ids
from gateway.adapters import Outcome, ResponseInfo, Verdict, classify_standard
from gateway.fanout import filter_matches, subscribes
from gateway.models import ErrorClass
from gateway.retry import parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RETRY = Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS)


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("2", 2.0),  # delta-seconds
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),  # HTTP date
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # a date in the past: now
        ("soon", None),  # garbage is ignored
        ("999999999", 86400.0),  # clamped to a day
        (None, None),  # absent
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    "status,verdict",
    [
        (200, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (301, Verdict.RETRY),
        (400, Verdict.RETRY),
        (410, Verdict.DISABLE),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
    ],
)
def test_classify_standard(status: int, verdict: Verdict) -> None:
    assert classify_standard(ResponseInfo(status, {}, b"")).verdict is verdict


DATA = {"studyId": "s1", "persona": {"segment": "renters"}, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    "flt,matches",
    [
        (None, True),  # no filter
        ({"studyId": "s1"}, True),  # equality
        ({"studyId": "s2"}, False),
        ({"studyId": ["s2", "s1"]}, True),  # a list: any of
        ({"persona.segment": "renters"}, True),  # dotted path
        ({"persona.missing": "x"}, False),  # missing field never matches
        ({"tags": "b"}, True),  # a list field contains the value
        ({"studyId": "s1", "persona.segment": "owners"}, False),  # all keys must match
    ],
)
def test_filter_matches(flt: dict[str, object] | None, matches: bool) -> None:
    assert filter_matches(flt, DATA) is matches


@pytest.mark.parametrize(
    "patterns,event_type,expected",
    [
        (["task.completed"], "task.completed", True),
        (["*"], "survey.response.completed", True),
        (["task.*"], "task.completed", True),
        (["task.*"], "survey.response.completed", False),
    ],
)
def test_subscribes(patterns: list[str], event_type: str, expected: bool) -> None:
    assert subscribes(patterns, event_type) is expected


def test_ids_sort_in_creation_order_and_derive_stably() -> None:
    made = [ids.new_id(ids.DELIVERY) for _ in range(2000)]
    assert made == sorted(made) and len(set(made)) == 2000
    assert ids.derived_id("evt", "a", "b") == ids.derived_id("evt", "a", "b")
    assert ids.derived_id("evt", "a", "b") != ids.derived_id("evt", "ab", "")
