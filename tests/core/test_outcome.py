"""The post-attempt decision (gateway.outcome.after_attempt): one table, one row per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.adapters import Outcome, Verdict
from gateway.models import DeliveryStatus, DestinationStatus, ErrorClass
from gateway.outcome import AttemptFacts, Circuit, Health, Policy, after_attempt, probe_delay
from gateway.retry import DEFAULT_SCHEDULE_SECONDS

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
POLICY = Policy(auto_disable_after=timedelta(days=5), circuit_failures=3, probe_max_seconds=8)
OK = Outcome(Verdict.SUCCESS)
E500 = Outcome(Verdict.RETRY, "HTTP 500", ErrorClass.HTTP_STATUS)
TIMEOUT = Outcome(Verdict.RETRY, "timed out", ErrorClass.TIMEOUT)
E413 = Outcome(Verdict.FAIL, "too large", ErrorClass.HTTP_STATUS)
GONE = Outcome(Verdict.DISABLE, "410 Gone", ErrorClass.HTTP_STATUS, remove_subscription=True)
N8N_403 = Outcome(
    Verdict.FAIL, "wrong credential", ErrorClass.HTTP_STATUS, 1, disable_when_exhausted=True
)
N8N_404 = Outcome(
    Verdict.RETRY, "not registered", ErrorClass.HTTP_STATUS, 2, disable_when_exhausted=True
)
ACTIVE = Health()
FAILING = Health(failing_since=NOW - timedelta(hours=1), consecutive_failures=1)
LONG_FAILING = Health(failing_since=NOW - timedelta(days=5, minutes=1), consecutive_failures=1)
OPEN = Health(
    failing_since=NOW - timedelta(minutes=1),
    consecutive_failures=3,
    circuit=Circuit.OPEN,
    probe_failures=1,
    circuit_retry_at=NOW + 2 * S,
)
HALF_OPEN = replace(OPEN, circuit=Circuit.HALF_OPEN, circuit_retry_at=NOW + 60 * S)
DISABLED = replace(FAILING, status=DestinationStatus.DISABLED)
SUBSCRIPTION = Health(subscription=True)
DELETED = Health(deleted=True, status=DestinationStatus.DISABLED)
LAST = len(DEFAULT_SCHEDULE_SECONDS) + 1  # the default schedule's last attempt


def facts(outcome: Outcome, number: int = 1, **kw: Any) -> AttemptFacts:
    return AttemptFacts(number=number, outcome=outcome, **kw)


# (facts, health before, expected: status, next attempt (seconds from NOW or None), attempt
#  outcome, then the flags that must be set; every other flag must be unset)
CASES = [
    # success ends the delivery and a streak
    (facts(OK), ACTIVE, ("succeeded", None, "success", set())),
    (facts(OK), FAILING, ("succeeded", None, "success", {"destination_recovered"})),
    # retry timing: the schedule's first step, jitter at its extremes, Retry-After a floor
    (facts(E500), ACTIVE, ("pending", 5, "retry", {"destination_failing"})),
    (facts(E500, jitter=1.0), FAILING, ("pending", 6, "retry", set())),
    (facts(E500, 2, jitter=-1.0), FAILING, ("pending", 240, "retry", set())),
    (facts(E500, retry_after_seconds=120), FAILING, ("pending", 120, "retry", set())),
    (facts(E500, schedule=(1.0, 2.0)), FAILING, ("pending", 1, "retry", set())),
    # exhaustion: the schedule used up, an empty schedule, a connector's cap
    (facts(E500, LAST), FAILING, ("failed", None, "fail", {"delivery_exhausted"})),
    (facts(E500, schedule=()), FAILING, ("failed", None, "fail", {"delivery_exhausted"})),
    (facts(replace(E500, max_attempts=1)), FAILING, ("failed", None, "fail", {"delivery_exhausted"})),
    # a permanent answer fails the delivery at once, and is no outage for the circuit
    (facts(E413), FAILING, ("failed", None, "fail", set())),
    # 410: fail, disable, cancel what waits; a platform subscription is removed too
    (facts(GONE), ACTIVE, ("failed", None, "disable", {"destination_failing", "destination_disabled", "cancel_waiting"})),
    (facts(GONE), SUBSCRIPTION, ("failed", None, "disable", {"destination_failing", "destination_disabled", "cancel_waiting", "destination_removed"})),
    # fixable disables keep the delivery pending, due at once when enabled
    (facts(N8N_403), ACTIVE, ("pending", 0, "disable", {"destination_failing", "destination_disabled", "disable_fixable"})),
    (facts(N8N_404), FAILING, ("pending", 5, "retry", set())),
    (facts(N8N_404, 2), FAILING, ("pending", 0, "disable", {"destination_disabled", "disable_fixable"})),
    (facts(E500), LONG_FAILING, ("pending", 5, "retry", {"destination_disabled", "disable_fixable"})),
    (facts(E500, LAST), LONG_FAILING, ("pending", 0, "retry", {"destination_disabled", "disable_fixable"})),
    (facts(E413), LONG_FAILING, ("failed", None, "fail", {"destination_disabled", "disable_fixable"})),
    # a disabled destination (operator, or earlier in the batch): nothing runs out meanwhile
    (facts(E500, LAST), DISABLED, ("pending", 0, "retry", set())),
    (facts(N8N_403), DISABLED, ("pending", 0, "disable", set())),
    # a deleted destination: what would wait is cancelled
    (facts(E500), DELETED, ("cancelled", None, "retry", {"destination_failing"})),
    # the circuit: the third failure in a row opens it, the first probe 1 s later
    (facts(TIMEOUT), replace(FAILING, consecutive_failures=2), ("pending", 5, "retry", {"circuit_opened"})),
    (facts(E500, LAST), replace(FAILING, consecutive_failures=2), ("pending", 1, "retry", {"circuit_opened"})),
    # a failed probe backs off (doubling, capped); a send that was in flight does not
    (facts(E500, probe=True), HALF_OPEN, ("pending", 5, "retry", set())),
    (facts(E500, LAST, probe=True), HALF_OPEN, ("pending", 4, "retry", set())),
    (facts(E500, LAST), OPEN, ("pending", 2, "retry", set())),
    # any success closes it (what waited on it is due already)
    (facts(OK, probe=True), HALF_OPEN, ("succeeded", None, "success", {"destination_recovered", "circuit_closed"})),
]  # fmt: skip

FLAGS = (
    "destination_disabled",
    "disable_fixable",
    "destination_removed",
    "cancel_waiting",
    "destination_failing",
    "destination_recovered",
    "delivery_exhausted",
    "circuit_opened",
    "circuit_closed",
)


@pytest.mark.parametrize("attempt,health,expected", CASES)
def test_after_attempt(attempt: AttemptFacts, health: Health, expected: tuple[Any, ...]) -> None:
    status, due, label, flags = expected
    got = after_attempt(attempt, health, POLICY, NOW)
    assert got.status is DeliveryStatus(status)
    if due is None:
        assert got.next_attempt_at is None
    else:
        assert got.next_attempt_at == NOW + due * S
    assert got.attempt_outcome == label
    assert {f for f in FLAGS if getattr(got, f)} == flags


def test_the_circuit_health_it_leaves() -> None:
    opened = after_attempt(facts(TIMEOUT), replace(FAILING, consecutive_failures=2), POLICY, NOW)
    assert opened.health.circuit is Circuit.OPEN and opened.health.circuit_retry_at == NOW + S
    probe = after_attempt(facts(E500, probe=True), HALF_OPEN, POLICY, NOW)
    assert probe.health.circuit is Circuit.OPEN and probe.health.probe_failures == 2
    assert probe.health.circuit_retry_at == NOW + 4 * S
    closed = after_attempt(facts(OK), HALF_OPEN, POLICY, NOW)
    assert closed.health == Health()  # the streak and the circuit forgotten
    gone = after_attempt(facts(GONE), SUBSCRIPTION, POLICY, NOW)
    assert gone.health.deleted and gone.health.status is DestinationStatus.DISABLED
    assert gone.disabled_reason == "410 Gone"
    fixable = after_attempt(facts(E500), LONG_FAILING, POLICY, NOW)
    assert fixable.disabled_reason == "every attempt failed for 5 days"


def test_probes_never_come_faster_than_one_a_second() -> None:
    delays = [probe_delay(POLICY, n).total_seconds() for n in range(8)]
    assert delays == [1, 2, 4, 8, 8, 8, 8, 8]
