"""A destination's in-flight limit (``gateway/delivery/concurrency.py``): AIMD, pure, the time of
each observation passed in."""

from __future__ import annotations

import pytest

from gateway.delivery.concurrency import COOLDOWN_SECONDS, SLOW_SECONDS, AdaptiveLimit, fair_share

PROMPT = SLOW_SECONDS / 10
SLOW = SLOW_SECONDS * 2


def test_a_destination_starts_at_the_ceiling() -> None:
    assert AdaptiveLimit(8).value == 8
    assert AdaptiveLimit(8, start=3).value == 3
    assert AdaptiveLimit(8, start=50).value == 8  # never above the ceiling
    assert AdaptiveLimit(0).value == 1  # a ceiling under one is one


def test_a_timeout_halves_at_most_once_per_cooldown() -> None:
    limit = AdaptiveLimit(16)
    limit.observe(SLOW, timed_out=True, contended=False, now=100.0)
    assert limit.value == 8
    limit.observe(SLOW, timed_out=True, contended=False, now=100.0 + COOLDOWN_SECONDS / 2)
    assert limit.value == 8  # the same burst: one signal
    limit.observe(SLOW, timed_out=True, contended=False, now=100.0 + COOLDOWN_SECONDS)
    assert limit.value == 4


def test_timeouts_never_take_the_limit_under_one() -> None:
    limit = AdaptiveLimit(4)
    for step in range(10):
        limit.observe(SLOW, timed_out=True, contended=True, now=step * COOLDOWN_SECONDS)
    assert limit.value == 1


@pytest.mark.parametrize(("contended", "after"), [(True, 9), (False, 10)])
def test_a_slow_answer_cuts_ten_percent_only_when_slots_are_short(
    contended: bool, after: int
) -> None:
    limit = AdaptiveLimit(10)
    limit.observe(SLOW, timed_out=False, contended=contended, now=0.0)
    assert limit.value == after


def test_prompt_answers_grow_the_limit_back_by_one_per_limit_answers() -> None:
    limit = AdaptiveLimit(8, start=4)
    for _ in range(4):  # +1/4, +1/4.25, ...: 4.92 after four answers
        limit.observe(PROMPT, timed_out=False, contended=False, now=0.0)
    assert limit.value == 4
    limit.observe(PROMPT, timed_out=False, contended=False, now=0.0)
    assert limit.value == 5
    for _ in range(100):
        limit.observe(PROMPT, timed_out=False, contended=False, now=0.0)
    assert limit.value == 8  # back to the ceiling, and no further


@pytest.mark.parametrize(
    ("budget", "active", "share"),
    [
        (512, 0, 512),  # none in flight: the one waiting may take it all
        (512, 3, 128),
        (10, 20, 1),  # never under one slot
        (0, 0, 1),
        (100, -5, 100),  # a negative count reads as none
    ],
)
def test_fair_share(budget: int, active: int, share: int) -> None:
    assert fair_share(budget, active) == share
