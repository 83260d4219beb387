"""The pure core: retry decisions, Retry-After, fan-out matching, pacing, ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway import ids
from gateway.adapters import Outcome, ResponseInfo, Verdict, classify_standard
from gateway.delivery.ratelimit import Pacer
from gateway.fanout import filter_matches, subscribes
from gateway.models import ErrorClass
from gateway.retry import DEFAULT_SCHEDULE_SECONDS, decide, parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RETRY = Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS)


@pytest.mark.parametrize(
    "attempt,expected",
    [
        (1, 5),
        (2, 300),
        (3, 1800),
        (4, 7200),
        (5, 18000),
        (6, 36000),
        (7, 36000),  # the schedule
    ],
)
def test_default_schedule_with_jitter(attempt: int, expected: float) -> None:
    for seed in range(20):
        d = decide(
            attempt_number=attempt,
            outcome=RETRY,
            retry_after_seconds=None,
            schedule=None,
            now=NOW,
            rng=random.Random(seed),
        )
        assert d.next_attempt_at is not None and not d.final
        delay = (d.next_attempt_at - NOW).total_seconds()
        assert expected * 0.8 <= delay <= expected * 1.2


def test_schedule_exhausted_is_final() -> None:
    d = decide(
        attempt_number=len(DEFAULT_SCHEDULE_SECONDS) + 1,
        outcome=RETRY,
        retry_after_seconds=None,
        schedule=None,
        now=NOW,
        rng=random.Random(1),
    )
    assert d.final and d.next_attempt_at is None


@pytest.mark.parametrize(
    "outcome,schedule,attempt,final",
    [
        (Outcome(Verdict.SUCCESS), None, 1, True),  # success ends it
        (Outcome(Verdict.FAIL, "bad", ErrorClass.HTTP_STATUS), None, 1, True),  # permanent failure
        (Outcome(Verdict.DISABLE, "gone", ErrorClass.HTTP_STATUS), None, 1, True),  # 410
        (RETRY, (), 1, True),  # an empty schedule: no retries
        (RETRY, (1.0, 1.0), 2, False),  # custom schedule, one step left
        (RETRY, (1.0, 1.0), 3, True),  # custom schedule used up
        (Outcome(Verdict.RETRY, "x", ErrorClass.HTTP_STATUS, max_attempts=1), None, 1, True),  # cap
    ],
)
def test_final_decisions(
    outcome: Outcome, schedule: tuple[float, ...] | None, attempt: int, final: bool
) -> None:
    d = decide(
        attempt_number=attempt,
        outcome=outcome,
        retry_after_seconds=None,
        schedule=schedule,
        now=NOW,
        rng=random.Random(0),
    )
    assert d.final is final


def test_retry_after_is_a_floor() -> None:
    d = decide(
        attempt_number=1,
        outcome=RETRY,
        retry_after_seconds=120,
        schedule=(1.0,),
        now=NOW,
        rng=random.Random(0),
    )
    assert d.next_attempt_at == NOW + timedelta(seconds=120)


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


def test_pacer_spaces_sends_and_hands_back_beyond_horizon() -> None:
    pacer = Pacer()
    slots = [pacer.slot("d", 10, 100.0, horizon=2.0) for _ in range(22)]
    taken = [s for s in slots if s is not None]
    assert all(b - a >= 0.1 for a, b in zip(taken, taken[1:], strict=False))
    assert slots[-1] is None  # further than two seconds away: not reserved
    assert pacer.slot("other", None, 100.0, horizon=2.0) == 100.0  # unlimited


def test_ids_sort_in_creation_order_and_derive_stably() -> None:
    made = [ids.new_id(ids.DELIVERY) for _ in range(2000)]
    assert made == sorted(made) and len(set(made)) == 2000
    assert ids.derived_id("evt", "a", "b") == ids.derived_id("evt", "a", "b")
    assert ids.derived_id("evt", "a", "b") != ids.derived_id("evt", "ab", "")
