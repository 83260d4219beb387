"""Retry timing: the default schedule, its jitter, ``Retry-After`` (read by ``gateway.outcome``).

CONTRACT §4: after a failure wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 % jitter, or
the destination's own ``retrySchedule``; ``Retry-After`` is honoured (never sooner than asked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE_SECONDS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER_FRACTION = 0.2
MAX_RETRY_AFTER_SECONDS = 86400.0  # a Retry-After beyond a day is clamped (a broken header)


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
