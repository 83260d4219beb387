"""A destination's lane: what it may hold ahead of its free send slots is bounded, and only a
prompt, healthy destination reads ahead at all."""

from __future__ import annotations

from typing import Any

from gateway.delivery import lanes as lanes_module
from gateway.delivery.lanes import PROMPT_SECONDS, READ_AHEAD, Lanes
from gateway.store import Claimed


def claimed(i: int, destination: str = "dst_a") -> Claimed:
    return Claimed(
        id=f"dlv_{i}",
        tenant_id="t1",
        event_id=f"evt_{i}",
        event_type="task.completed",
        destination_id=destination,
        connector="webhook",
        attempt_count=0,
        is_test=False,
        trigger="event",
        replay_of=None,
    )


def fill(lanes: Lanes, destination: str, busy: int) -> None:
    lanes.limit(destination)
    lanes.busy[destination] = busy


def test_a_prompt_destination_may_hold_its_cap_again_ahead_and_no_more() -> None:
    lanes = Lanes(budget=256, destination_concurrency=32)
    fill(lanes, "dst_a", 32)
    caps, blocked, _ = lanes.caps()
    assert "dst_a" in blocked  # unknown speed: nothing ahead, and its slots are all busy
    lanes.observe("dst_a", 0.01)
    caps, blocked, _ = lanes.caps()
    cap = min(32, 256 // 2)
    assert caps["dst_a"] == READ_AHEAD * cap  # room beyond the busy slots: the read-ahead
    for i in range(READ_AHEAD * cap):
        lanes.push(claimed(i))
    assert lanes.held("dst_a") == cap + READ_AHEAD * cap
    assert "dst_a" in lanes.caps()[1]  # full: not claimed for


def test_a_slow_or_unhealthy_destination_reads_nothing_ahead() -> None:
    lanes = Lanes(budget=256, destination_concurrency=32)
    fill(lanes, "slow", 31)
    lanes.observe("slow", PROMPT_SECONDS * 4)
    assert lanes.ahead("slow", 32) == 0
    fill(lanes, "sick", 0)
    lanes.observe("sick", 0.01)
    lanes.push(claimed(1, "sick"))
    assert [c.id for c in lanes.read_ahead("sick", False)] == ["dlv_1"]  # handed back
    assert lanes.ahead("sick", 32) == 0 and lanes.queued_total == 0
    assert lanes.read_ahead("sick", True) == [] and lanes.ahead("sick", 32) > 0


def test_what_waits_too_long_or_is_left_at_shutdown_goes_back(monkeypatch: Any) -> None:
    lanes = Lanes(budget=256, destination_concurrency=32)
    now = [1000.0]
    monkeypatch.setattr(lanes_module.time, "monotonic", lambda: now[0])
    lanes.push(claimed(1))
    now[0] += lanes_module.READ_AHEAD_MAX_SECONDS / 2
    lanes.push(claimed(2))
    now[0] += lanes_module.READ_AHEAD_MAX_SECONDS * 0.75
    assert [c.id for c in lanes.expired()] == ["dlv_1"]
    assert lanes.pop("dst_a") is not None and lanes.pop("dst_a") is None
    lanes.push(claimed(3, "dst_b"))
    assert [c.id for c in lanes.take_all()] == ["dlv_3"] and lanes.queued_total == 0


def test_a_queued_delivery_never_starts_outside_a_third_of_its_lease(monkeypatch: Any) -> None:
    """Even with the store away (no renewal, no claim loop), what waited too long is not
    started: ``pop`` skips it and it is handed back."""
    lanes = Lanes(budget=256, destination_concurrency=32, lease_seconds=3)
    assert lanes.max_age == 1.0
    now = [50.0]
    monkeypatch.setattr(lanes_module.time, "monotonic", lambda: now[0])
    lanes.push(claimed(1))
    now[0] += 0.6
    lanes.push(claimed(2))
    now[0] += 0.6  # dlv_1 has waited 1.2 s, dlv_2 0.6 s
    started = lanes.pop("dst_a")
    assert started is not None and started.id == "dlv_2"
    assert [c.id for c in lanes.expired()] == ["dlv_1"] and lanes.queued_total == 0
