"""Operational events: the gateway telling a tenant about its own destinations (CONTRACT §2).

Pure: which notices a transition yields and what their ``data`` says. The store
(``gateway/store/opevents.py``) turns each notice into an ordinary event in the caller's
transaction, so it is fanned out, signed and retried like any other event.

Once per transition: every caller guards its transition in SQL (a status or a threshold column
that only one transaction can move), so a notice is built only by the transaction that moved it.
No loops: nothing is emitted about a destination that subscribes to operational events only, and
no ``gateway.delivery.exhausted`` is emitted for a delivery of an operational event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from gateway.models import EventType, iso

log = logging.getLogger("gateway.ops")

OPERATIONAL_PREFIX = "gateway."
FAILING_THRESHOLDS = (50, 90)  # percent of the auto-disable window (CONTRACT §2)
OPERATIONAL_TYPES = frozenset(t.value for t in EventType if t.value.startswith(OPERATIONAL_PREFIX))


class Subject(Protocol):
    """The destination a notice is about (``gateway.store.records.SubjectRecord``)."""

    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def name(self) -> str: ...


class ExhaustedDelivery(Protocol):
    """What ``gateway.delivery.exhausted`` says of the delivery (a ``DeliveryRecord``)."""

    @property
    def id(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def attempt_count(self) -> int: ...
    @property
    def last_status_code(self) -> int | None: ...


@dataclass(frozen=True)
class Notice:
    """One operational event to emit: its type, tenant, subject destination and ``data``."""

    type: EventType
    tenant_id: str
    destination_id: str
    data: dict[str, Any]


def is_operational(event_type: str) -> bool:
    return event_type.startswith(OPERATIONAL_PREFIX)


def subscribes_to_operational_only(event_types: Sequence[str]) -> bool:
    """True when every pattern names operational events only (``gateway.*`` included)."""
    return bool(event_types) and all(p.startswith(OPERATIONAL_PREFIX) for p in event_types)


def thresholds_due(
    *, failing_since: datetime, now: datetime, window: timedelta, alerted: int
) -> list[int]:
    """The failing thresholds crossed by now and not yet emitted in this streak, lowest first."""
    if window.total_seconds() <= 0:
        return []
    elapsed = (now - failing_since) / window * 100
    return [t for t in FAILING_THRESHOLDS if alerted < t <= elapsed]


def _subject(destination: Subject) -> dict[str, Any]:
    return {"destinationId": destination.id, "destinationName": destination.name or ""}


def failing(
    destination: Subject, *, threshold: int, failing_since: datetime, window: timedelta
) -> Notice:
    return Notice(
        EventType.DESTINATION_FAILING,
        destination.tenant_id,
        destination.id,
        {
            **_subject(destination),
            "threshold": threshold,
            "failingSince": iso(failing_since),
            "disableAt": iso(failing_since + window),
            "autoDisableAfterSeconds": window.total_seconds(),
        },
    )


def disabled(destination: Subject, *, reason: str, at: datetime) -> Notice:
    return Notice(
        EventType.DESTINATION_DISABLED,
        destination.tenant_id,
        destination.id,
        {**_subject(destination), "reason": reason, "disabledAt": iso(at)},
    )


def recovered(destination: Subject, *, how: str, at: datetime) -> Notice:
    """``how``: ``success`` (first success after a failing notice) or ``enabled``."""
    return Notice(
        EventType.DESTINATION_RECOVERED,
        destination.tenant_id,
        destination.id,
        {**_subject(destination), "recoveredBy": how, "recoveredAt": iso(at)},
    )


def exhausted(destination: Subject, delivery: ExhaustedDelivery, *, at: datetime) -> Notice:
    return Notice(
        EventType.DELIVERY_EXHAUSTED,
        destination.tenant_id,
        destination.id,
        {
            **_subject(destination),
            "deliveryId": delivery.id,
            "eventId": delivery.event_id,
            "eventType": delivery.event_type,
            "attempts": int(delivery.attempt_count),
            "lastStatusCode": delivery.last_status_code,
            "failedAt": iso(at),
        },
    )


def log_notice(notice: Notice, *, event_id: str | None) -> None:
    """One structured line per transition on logger ``gateway.ops`` (JSON message)."""
    line = {"event": notice.type.value, "eventId": event_id, "tenantId": notice.tenant_id}
    line.update(notice.data)
    log.info(json.dumps(line, sort_keys=True), extra={"destination_id": notice.destination_id})
