"""The retry decision as a pure function of (attempt, outcome, retry_after, schedule, now, rng).

CONTRACT §4: after a failure wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 % jitter, or
the destination's own ``retrySchedule``; ``Retry-After`` is honoured (never sooner than asked).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from gateway.adapters import Outcome, Verdict

DEFAULT_SCHEDULE_SECONDS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER_FRACTION = 0.2
MAX_RETRY_AFTER_SECONDS = 86400.0  # a Retry-After beyond a day is clamped (a broken header)


@dataclass(frozen=True)
class Decision:
    """What happens to a delivery after one attempt."""

    final: bool  # no further attempt
    next_attempt_at: datetime | None  # when to try again (None when final)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def decide(
    *,
    attempt_number: int,
    outcome: Outcome,
    retry_after_seconds: float | None,
    schedule: tuple[float, ...] | None,
    now: datetime,
    rng: random.Random,
) -> Decision:
    """Decide after attempt ``attempt_number`` (1-based) whether and when to try again."""
    if outcome.verdict in (Verdict.SUCCESS, Verdict.FAIL, Verdict.DISABLE):
        return Decision(final=True, next_attempt_at=None)
    steps = schedule if schedule is not None else DEFAULT_SCHEDULE_SECONDS
    max_attempts = len(steps) + 1
    if outcome.max_attempts is not None:
        max_attempts = min(max_attempts, outcome.max_attempts)
    if attempt_number >= max_attempts:
        return Decision(final=True, next_attempt_at=None)
    delay = steps[attempt_number - 1] * (1 + rng.uniform(-JITTER_FRACTION, JITTER_FRACTION))
    if retry_after_seconds is not None:
        delay = max(delay, retry_after_seconds)
    return Decision(final=False, next_attempt_at=now + timedelta(seconds=delay))
