"""Each destination's lane in this process: its sends in flight, and what it has read ahead.

A destination may have ``cap`` sends in flight: its adaptive limit (``concurrency.AdaptiveLimit``)
within its fair share of the process's budget. A prompt destination with a backlog may also hold
up to ``READ_AHEAD`` × ``cap`` more, claimed before its slots free up and started here, one per
finished send, so the claim's round trip is off its send path. The read-ahead is bounded, so
isolation holds: a slow destination (answers slower than ``PROMPT_SECONDS`` on average), one whose
circuit is not closed, and a rate-limited one read nothing ahead, and whatever waits here longer
than ``READ_AHEAD_MAX_SECONDS`` (at most a third of the lease) is handed back, never started: so
a queued delivery is only ever sent well inside the lease it was claimed under, even while the
store is away and no renewal gets through. Everything queued here is held under the worker's
lease (renewed like the sends) and handed back unsent on shutdown.
"""

from __future__ import annotations

import time
from collections import Counter, deque

from gateway.delivery.concurrency import AdaptiveLimit, fair_share
from gateway.store import Claimed

READ_AHEAD = 2  # up to this many times a destination's cap, held ahead of its free slots
PROMPT_SECONDS = 0.25  # read ahead only for a destination answering faster than this on average
READ_AHEAD_MAX_SECONDS = 2.0  # a delivery waits here no longer than this, else it goes back
_EWMA = 0.2


class Lanes:
    def __init__(
        self, budget: int, destination_concurrency: int, lease_seconds: float = 60.0
    ) -> None:
        self.max_age = min(READ_AHEAD_MAX_SECONDS, lease_seconds / 3)
        self.handed_back: list[Claimed] = []  # found too old when about to start: to release
        self.budget = budget
        self.destination_concurrency = destination_concurrency
        self.busy: Counter[str] = Counter()  # sends in flight (or waiting for their rate slot)
        self.limits: dict[str, AdaptiveLimit] = {}
        self.queued: dict[str, deque[tuple[float, Claimed]]] = {}
        self.queued_total = 0
        self._latency: dict[str, float] = {}
        self._no_ahead: set[str] = set()  # rate-limited, or its circuit is not closed

    def limit(self, destination_id: str) -> AdaptiveLimit:
        limit = self.limits.get(destination_id)
        if limit is None:
            limit = self.limits[destination_id] = AdaptiveLimit(self.destination_concurrency)
        return limit

    def share(self) -> int:
        active = sum(1 for n in self.busy.values() if n > 0)
        return fair_share(self.budget, active)

    def cap(self, destination_id: str, share: int) -> int:
        """Sends this destination may have in flight now."""
        return min(self.limit(destination_id).value, share)

    def ahead(self, destination_id: str, cap: int) -> int:
        """How many it may hold beyond its sends in flight."""
        if destination_id in self._no_ahead:
            return 0
        latency = self._latency.get(destination_id)
        if latency is None or latency >= PROMPT_SECONDS:
            return 0
        return READ_AHEAD * cap

    def held(self, destination_id: str) -> int:
        queue = self.queued.get(destination_id)
        return self.busy[destination_id] + (len(queue) if queue else 0)

    def caps(self) -> tuple[dict[str, int], list[str], int]:
        """What each known destination may be claimed for now, those with no room worth a claim,
        and the cap of any other."""
        share = self.share()
        caps: dict[str, int] = {}
        blocked: list[str] = []
        for destination_id in self.limits:
            room = self._room(destination_id, share)
            if room is None:
                blocked.append(destination_id)
            else:
                caps[destination_id] = room
        default = min(int(AdaptiveLimit(self.destination_concurrency).value), share)
        return caps, blocked, default

    def claimable(self, destination_id: str) -> bool:
        return self._room(destination_id, self.share()) is not None

    def _room(self, destination_id: str, share: int) -> int | None:
        """Room for a batch: a busy destination waits until half of what it may hold (its cap and
        its read-ahead) is free again, so one finished send does not cost one claim transaction."""
        cap = self.cap(destination_id, share)
        held = self.held(destination_id)
        bound = cap + self.ahead(destination_id, cap)
        room = bound - held
        if room > 0 and (held == 0 or room >= max(1, bound // 2)):
            return room
        return None

    def can_start(self, destination_id: str) -> bool:
        return self.busy[destination_id] < self.cap(destination_id, self.share())

    def push(self, item: Claimed) -> None:
        queue = self.queued.get(item.destination_id)
        if queue is None:
            queue = self.queued[item.destination_id] = deque()
        queue.append((time.monotonic(), item))
        self.queued_total += 1

    def pop(self, destination_id: str) -> Claimed | None:
        """The next delivery to start; any that waited too long go to ``handed_back``."""
        queue = self.queued.get(destination_id)
        oldest = time.monotonic() - self.max_age
        while queue:
            self.queued_total -= 1
            at, item = queue.popleft()
            if at >= oldest:
                return item
            self.handed_back.append(item)
        return None

    def observe(self, destination_id: str, seconds: float) -> None:
        previous = self._latency.get(destination_id)
        self._latency[destination_id] = (
            seconds if previous is None else previous + _EWMA * (seconds - previous)
        )

    def read_ahead(self, destination_id: str, allowed: bool) -> list[Claimed]:
        """Allow or stop reading ahead for a destination; stopping hands back what it queued."""
        if allowed:
            self._no_ahead.discard(destination_id)
            return []
        self._no_ahead.add(destination_id)
        return self.take_all(destination_id)

    def take_all(self, destination_id: str | None = None) -> list[Claimed]:
        """Remove and return what is queued (for one destination, or all)."""
        keys = list(self.queued) if destination_id is None else [destination_id]
        out: list[Claimed] = []
        for key in keys:
            queue = self.queued.pop(key, None)
            if queue:
                out.extend(item for _, item in queue)
        self.queued_total -= len(out)
        return out

    def expired(self) -> list[Claimed]:
        """Remove and return what waited too long, and what ``pop`` found so."""
        oldest = time.monotonic() - self.max_age
        out, self.handed_back = self.handed_back, []
        for queue in self.queued.values():
            while queue and queue[0][0] < oldest:
                out.append(queue.popleft()[1])
                self.queued_total -= 1
        return out
