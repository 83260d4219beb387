"""Retry timing: the default schedule, its jitter, ``Retry-After`` (read by ``gateway.outcome``).

CONTRACT §4: after a failure wait 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 % jitter, or
the destination's own ``retrySchedule``; ``Retry-After`` is honoured (never sooner than asked).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE_SECONDS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER_FRACTION = 0.2
MAX_RETRY_AFTER_SECONDS = 86400.0  # a Retry-After beyond a day is clamped (a broken header)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    Read leniently (servers send ``1.5`` or `` 3 ``); a negative delay or a past date is 0, a
    delay beyond ``MAX_RETRY_AFTER_SECONDS`` is clamped; absent or unreadable is ``None`` (the
    caller's own default applies). The one reading of the header: deliveries and the person.run
    client both use it.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):  # "nan", "inf" read as floats
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
