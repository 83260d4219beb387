"""How many sends each destination may have in flight in this process (adaptive, AIMD).

A destination starts at the ceiling (``GATEWAY_DESTINATION_CONCURRENCY``): a prompt one needs its
slots, and claims in batches cost far less than one by one. It grows back by one per ``limit``
prompt answers after a cut. A timeout halves its limit (at most once per
``COOLDOWN_SECONDS``); a slow answer (over ``SLOW_SECONDS``) takes 10 % off while the process's send
budget is contended. On top of that the worker caps every destination at its fair share of the
budget, so a slow or dead destination holds a few slots and its neighbours keep the rest.
"""

from __future__ import annotations

MIN_LIMIT = 1.0
SLOW_SECONDS = 1.0
COOLDOWN_SECONDS = 1.0  # one halving per second: a burst of timeouts is one signal


class AdaptiveLimit:
    """Additive increase, multiplicative decrease of one destination's concurrency."""

    def __init__(self, ceiling: int, start: float | None = None) -> None:
        self.ceiling = float(max(1, ceiling))
        self._limit = self.ceiling if start is None else min(self.ceiling, start)
        self._last_cut = float("-inf")

    @property
    def value(self) -> int:
        return max(1, int(self._limit))

    def observe(self, seconds: float, timed_out: bool, contended: bool, now: float) -> None:
        """One finished send: its duration (s), whether it timed out, whether slots are short."""
        if timed_out:
            if now - self._last_cut >= COOLDOWN_SECONDS:
                self._limit = max(MIN_LIMIT, self._limit / 2)
                self._last_cut = now
        elif seconds > SLOW_SECONDS:
            if contended:
                self._limit = max(MIN_LIMIT, self._limit * 0.9)
        else:
            self._limit = min(self.ceiling, self._limit + 1 / self._limit)


def fair_share(budget: int, active_destinations: int) -> int:
    """A destination's share of the process's send slots while ``active_destinations`` (the ones
    with sends in flight, plus one for whoever is waiting) compete for them."""
    return max(1, budget // max(1, active_destinations + 1))
