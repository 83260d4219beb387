"""What happens after an attempt: one pure function for the delivery, its destination and circuit.

Every rule that follows an attempt lives here (CONTRACT §2, §4): the retry timing and exhaustion
(``gateway.retry``), the fixable disables (n8n 403 / "not registered" after their attempts, the
auto-disable window) that keep their deliveries ``pending``, 410 which disables for good (a
platform subscription is removed, waiting deliveries are cancelled), and the circuit breaker.

``after_attempt`` reads the attempt's facts and the destination's ``Health`` as the store holds it
at the moment of recording, and answers the delivery's next status, the destination's next health
and explicit transition flags. The store applies the answer in one transaction
(``gateway/store/claim.py::record_attempts``) and returns it, so anything that reacts to a
transition (operational events) has one place to hook. Nothing here touches a clock, the network
or randomness: ``now`` and the jitter draw come in.

Circuit (CONTRACT §2 ``circuit``): ``closed`` sends freely; ``policy.circuit_failures`` retryable
failures in a row open it; while ``open`` nothing is sent but one probe at a time, the n-th probe
``probe_delay(n)`` after the last (1 s, 2 s, 4 s … up to ``probe_max_seconds``: never more than
one probe a second); a probe in flight is ``halfOpen``; any success closes it. While it is open no
delivery of the destination runs out of attempts: it waits for the circuit to close.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.adapters import Outcome, Verdict
from gateway.models import DeliveryStatus, DestinationStatus
from gateway.retry import DEFAULT_SCHEDULE_SECONDS, JITTER_FRACTION


class Circuit(StrEnum):
    CLOSED = "closed"  # sending normally
    OPEN = "open"  # repeated failures: holding deliveries, probing with one at a time
    HALF_OPEN = "halfOpen"  # one probe is in flight


@dataclass(frozen=True)
class Policy:
    """The operator's knobs for the post-attempt rules (from ``Settings``)."""

    auto_disable_after: timedelta | None = None  # None: never auto-disable
    circuit_failures: int = 5  # consecutive retryable failures that open the circuit
    probe_min_seconds: float = 1.0  # the first probe's delay after opening (≥ 1: ≤ 1 probe/s)
    probe_max_seconds: float = 60.0  # probes back off up to this


@dataclass(frozen=True)
class Health:
    """A destination's state that the post-attempt rules read and write."""

    status: DestinationStatus = DestinationStatus.ACTIVE
    deleted: bool = False
    subscription: bool = False  # created by a platform: a 410 deletes it
    failing_since: datetime | None = None  # first failure of the current streak
    consecutive_failures: int = 0  # retryable failures since the last success
    circuit: Circuit = Circuit.CLOSED
    probe_failures: int = 0  # failed probes since the circuit opened (the backoff exponent)
    circuit_retry_at: datetime | None = None  # next probe allowed (open) / probe guard (halfOpen)


@dataclass(frozen=True)
class AttemptFacts:
    """What one attempt found out."""

    number: int  # 1-based attempt number
    outcome: Outcome  # the connector's reading of the response (or of the send error)
    retry_after_seconds: float | None = None  # the response's Retry-After, parsed
    schedule: tuple[float, ...] | None = None  # the destination's retrySchedule (seconds)
    jitter: float = 0.0  # a draw in [-1, 1] for this retry's ±20 % jitter
    probe: bool = False  # this attempt was the circuit's probe


@dataclass(frozen=True)
class AfterAttempt:
    """The decision: what the store writes, and which transitions it makes (explicit flags)."""

    status: DeliveryStatus  # the delivery's next status
    next_attempt_at: datetime | None  # when it is due again (None when final)
    attempt_outcome: str  # the attempt row's outcome: success | retry | fail | disable
    health: Health  # the destination after this attempt
    disabled_reason: str | None = None  # the reason, when this attempt disabled the destination
    destination_disabled: bool = False  # this attempt disabled the destination
    disable_fixable: bool = False  # … for a reason its owner can fix (deliveries stay pending)
    destination_removed: bool = False  # a platform subscription answered 410: deleted
    cancel_waiting: bool = False  # cancel the destination's pending deliveries (410)
    destination_failing: bool = False  # a failure streak began with this attempt
    destination_recovered: bool = False  # the first success after a failure streak
    delivery_exhausted: bool = False  # the delivery's retries ran out: it failed
    circuit_opened: bool = False
    circuit_closed: bool = False  # the circuit closed (what waited on it is already due)


def probe_delay(policy: Policy, probe_failures: int) -> timedelta:
    """The wait before the next probe: doubling from ``probe_min_seconds``, capped."""
    floor = max(1.0, policy.probe_min_seconds)  # never more than one probe a second
    seconds = floor * 2 ** min(probe_failures, 30)
    return timedelta(seconds=max(floor, min(seconds, policy.probe_max_seconds)))


def after_attempt(
    facts: AttemptFacts, health: Health, policy: Policy, now: datetime
) -> AfterAttempt:
    """Decide everything that follows one attempt (see the module docstring)."""
    outcome = facts.outcome
    ok = outcome.verdict is Verdict.SUCCESS
    new = _next_health(facts, health, policy, now)
    base = AfterAttempt(
        DeliveryStatus.SUCCEEDED,
        None,
        "success",
        new,
        destination_failing=not ok and health.failing_since is None,
        destination_recovered=ok and health.failing_since is not None,
        circuit_opened=health.circuit is Circuit.CLOSED and new.circuit is not Circuit.CLOSED,
        circuit_closed=health.circuit is not Circuit.CLOSED and new.circuit is Circuit.CLOSED,
    )
    if ok:
        return base
    if outcome.verdict is Verdict.DISABLE:  # 410: gone for good
        remove = new.subscription and outcome.remove_subscription and not new.deleted
        return replace(
            base,
            status=DeliveryStatus.FAILED,
            attempt_outcome="disable",
            health=replace(new, status=DestinationStatus.DISABLED, deleted=new.deleted or remove),
            disabled_reason=outcome.reason,
            destination_disabled=health.status is DestinationStatus.ACTIVE,
            destination_removed=remove,
            cancel_waiting=True,
        )
    if outcome.verdict is Verdict.FAIL and not outcome.disable_when_exhausted:
        failed = replace(base, status=DeliveryStatus.FAILED, attempt_outcome="fail")
        return _settle(failed, policy, health, now)
    exhausted = outcome.verdict is Verdict.FAIL or facts.number >= _max_attempts(facts)
    if not exhausted:
        at = now + timedelta(seconds=_retry_delay(facts))
        retry = replace(
            base, status=DeliveryStatus.PENDING, next_attempt_at=at, attempt_outcome="retry"
        )
        return _settle(retry, policy, health, now)
    if outcome.disable_when_exhausted:  # n8n: wrong credential, workflow not active
        plural = "s" if facts.number > 1 else ""
        reason = f"{outcome.reason} (after {facts.number} attempt{plural})"
        held = replace(
            base, status=DeliveryStatus.PENDING, next_attempt_at=now, attempt_outcome="disable"
        )
        return _disable_fixable(held, reason, now)
    failed = replace(
        base, status=DeliveryStatus.FAILED, attempt_outcome="fail", delivery_exhausted=True
    )
    return _settle(failed, policy, health, now)


def _settle(result: AfterAttempt, policy: Policy, before: Health, now: datetime) -> AfterAttempt:
    """The auto-disable window, then hold what would run out while the destination cannot
    take it (disabled, or circuit open), and cancel what waits on a deleted destination."""
    window = policy.auto_disable_after
    if (
        window is not None
        and before.status is DestinationStatus.ACTIVE
        and before.failing_since is not None
        and before.failing_since <= now - window
    ):
        result = _disable_fixable(result, f"every attempt failed for {span(window)}", now)
    health = result.health
    if result.delivery_exhausted and (
        health.status is DestinationStatus.DISABLED or health.circuit is not Circuit.CLOSED
    ):
        due = health.circuit_retry_at if health.circuit is not Circuit.CLOSED else now
        result = replace(
            result,
            status=DeliveryStatus.PENDING,
            next_attempt_at=due or now,
            attempt_outcome="retry",
            delivery_exhausted=False,
        )
    if health.deleted and result.status is DeliveryStatus.PENDING:
        result = replace(result, status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    return result


def _disable_fixable(result: AfterAttempt, reason: str, now: datetime) -> AfterAttempt:
    health = result.health
    if health.status is not DestinationStatus.ACTIVE:
        return result  # already disabled (an operator, or an earlier attempt in the batch)
    status, at, label = result.status, result.next_attempt_at, result.attempt_outcome
    if result.delivery_exhausted:  # the attempt that disabled it waits for the fix, like the rest
        status, at, label = DeliveryStatus.PENDING, now, "retry"
    return replace(
        result,
        status=status,
        next_attempt_at=at,
        attempt_outcome=label,
        health=replace(health, status=DestinationStatus.DISABLED),
        disabled_reason=reason,
        destination_disabled=True,
        disable_fixable=True,
        delivery_exhausted=False,
    )


def _next_health(facts: AttemptFacts, health: Health, policy: Policy, now: datetime) -> Health:
    verdict = facts.outcome.verdict
    if verdict is Verdict.SUCCESS:
        return replace(
            health,
            failing_since=None,
            consecutive_failures=0,
            circuit=Circuit.CLOSED,
            probe_failures=0,
            circuit_retry_at=None,
        )
    new = replace(health, failing_since=health.failing_since or now)
    if verdict is not Verdict.RETRY:
        return new  # a permanent answer (4xx the connector knows, schema, render): not an outage
    failures = health.consecutive_failures + 1
    new = replace(new, consecutive_failures=failures)
    if health.circuit is Circuit.CLOSED:
        if failures < policy.circuit_failures:
            return new
        return replace(
            new,
            circuit=Circuit.OPEN,
            probe_failures=0,
            circuit_retry_at=now + probe_delay(policy, 0),
        )
    if not facts.probe:
        return new  # a send that was in flight when the circuit opened: the probe decides
    probes = health.probe_failures + 1
    return replace(
        new,
        circuit=Circuit.OPEN,
        probe_failures=probes,
        circuit_retry_at=now + probe_delay(policy, probes),
    )


def _max_attempts(facts: AttemptFacts) -> int:
    steps = facts.schedule if facts.schedule is not None else DEFAULT_SCHEDULE_SECONDS
    cap = len(steps) + 1
    if facts.outcome.max_attempts is not None:
        cap = min(cap, facts.outcome.max_attempts)
    return cap


def _retry_delay(facts: AttemptFacts) -> float:
    steps = facts.schedule if facts.schedule is not None else DEFAULT_SCHEDULE_SECONDS
    jitter = max(-1.0, min(1.0, facts.jitter))
    delay = steps[facts.number - 1] * (1 + JITTER_FRACTION * jitter)
    if facts.retry_after_seconds is not None:
        delay = max(delay, facts.retry_after_seconds)
    return delay


def span(value: timedelta) -> str:
    """``5 days``, ``6 hours``, ``90 seconds``: for a destination's disabledReason."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
