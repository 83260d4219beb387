"""Per-destination pacing: evenly spaced slots, so no one-second window exceeds the cap.

Slots are spaced 10 % wider than ``1/rate``: sends wake a little late when the event loop is busy,
and without the margin a late send and an on-time one can share a one-second window at the
receiver with one request too many (measured in tests/connectors/test_hooks_api.py).
"""

from __future__ import annotations

RATE_MARGIN = 0.9


class Pacer:
    """A generic cell rate algorithm: each send takes the next slot ``1/rate`` after the last."""

    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}

    def slot(
        self, key: str, rate_per_second: float | None, now: float, horizon: float
    ) -> float | None:
        """Reserve and return the send time (monotonic seconds), or ``None`` when the next free
        slot lies beyond ``now + horizon`` (then nothing is reserved: hand the delivery back)."""
        if not rate_per_second:
            return now
        at = max(now, self._next_free.get(key, now))
        if at - now > horizon:
            return None
        self._next_free[key] = at + 1.0 / (rate_per_second * RATE_MARGIN)
        return at

    def next_free(self, key: str, now: float) -> float:
        return max(now, self._next_free.get(key, now))
