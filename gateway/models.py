"""Domain values shared by the core, the store and the connectors.

These are plain frozen dataclasses: no I/O, no ORM. The store maps rows to them in one place
(``gateway/store/rows.py``); connectors receive them and never see a database row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson


class EventType(StrEnum):
    TASK_COMPLETED = "task.completed"  # a person.run task finished (polled or pushed)
    SURVEY_RESPONSE_COMPLETED = (
        "survey.response.completed"  # an ingested Typeform/Qualtrics response
    )
    # Operational events (gateway/opevents.py): the gateway about a tenant's own destinations.
    DESTINATION_FAILING = "gateway.destination.failing"  # failing for 50 % / 90 % of the window
    DESTINATION_DISABLED = "gateway.destination.disabled"  # disabled, with the reason
    DESTINATION_RECOVERED = "gateway.destination.recovered"  # succeeded again, or enabled again
    DELIVERY_EXHAUSTED = "gateway.delivery.exhausted"  # a delivery's retries ran out


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at (or held while its destination is disabled)
    SENDING = "sending"  # claimed by a worker under a lease
    SUCCEEDED = "succeeded"  # a 2xx was received
    FAILED = "failed"  # retries exhausted or a permanent failure
    CANCELLED = "cancelled"  # its destination was deleted before it was sent


class DeliveryTrigger(StrEnum):
    EVENT = "event"  # fan-out of a new event
    REPLAY = "replay"  # POST /integrations/deliveries/{id}/replay
    BULK_REPLAY = "bulkReplay"  # a POST /integrations/replays job
    TEST = "test"  # POST /integrations/destinations/{id}/test


class DestinationStatus(StrEnum):
    ACTIVE = "active"  # receives deliveries
    DISABLED = "disabled"  # holds its deliveries; see disabled_reason


class SigningAlgorithm(StrEnum):
    HMAC_SHA256 = "hmac-sha256"  # Standard Webhooks v1, secret whsec_<base64>
    ED25519 = "ed25519"  # Standard Webhooks v1a, secret whsk_<base64>, public key whpk_<base64>


class ErrorClass(StrEnum):
    """Why an attempt did not succeed; stored on the attempt row."""

    TIMEOUT = "timeout"  # no complete response within the destination's timeout
    CONNECT = "connect"  # TCP connect refused/reset/unreachable, DNS failure
    TLS = "tls"  # TLS handshake or certificate failure
    HTTP_STATUS = "http_status"  # a response arrived with a non-2xx status
    SCHEMA_MISMATCH = "schema_mismatch"  # the rendered body broke the destination's outputSchema
    BLOCKED = "blocked"  # the URL resolves to a refused network (SSRF guard)
    PAYLOAD_TOO_LARGE = (
        "payload_too_large"  # the body exceeds the connector's cap even after trimming
    )
    RENDER = "render"  # the connector could not map this event (bad mapping options)
    PROTOCOL = "protocol"  # malformed HTTP response
    INTERNAL = "internal"  # a bug; the worker's top loop caught it


@dataclass(frozen=True)
class Event:
    """Something that happened, once."""

    id: str
    tenant_id: str
    type: str
    data: dict[str, Any]
    created_at: datetime  # when the gateway stored it; the envelope's ``timestamp``

    def envelope(self) -> dict[str, Any]:
        """The canonical body of the ``webhook`` connector (CONTRACT §4)."""
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": iso(self.created_at),
            "tenantId": self.tenant_id,
            "data": self.data,
        }


class StoredEvent(Event):
    """An event as the delivery path reads it: ``data`` kept as its stored JSON text, so the
    ``webhook`` envelope splices it in as is, and decoded only when a connector reads ``data``
    (once)."""

    def __init__(
        self, *, id: str, tenant_id: str, type: str, data_json: str, created_at: datetime
    ) -> None:
        for name, value in (
            ("id", id),
            ("tenant_id", tenant_id),
            ("type", type),
            ("created_at", created_at),
            ("data_json", data_json),
        ):
            object.__setattr__(self, name, value)

    data_json: str

    @property
    def data(self) -> dict[str, Any]:
        decoded: dict[str, Any] | None = self.__dict__.get("_data")
        if decoded is None:
            decoded = orjson.loads(self.data_json)
            object.__setattr__(self, "_data", decoded)
        return decoded


@dataclass(frozen=True)
class SigningKey:
    """One secret that signs: ``whsec_…`` (v1) or ``whsk_…`` (v1a)."""

    secret: str
    expires_at: datetime | None = None  # a rotated-out secret signs until then


@dataclass(frozen=True)
class DestinationView:
    """What a connector may know about a destination, secrets decrypted."""

    id: str
    tenant_id: str
    connector: str
    url: str
    signing: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256
    keys: tuple[SigningKey, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 15.0

    @property
    def primary_secret(self) -> str | None:
        return self.keys[0].secret if self.keys else None


def iso(value: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` (the form person.run and Standard Webhooks use)."""
    text = value.isoformat(timespec="milliseconds") if value.microsecond else value.isoformat()
    return (
        text.replace("+00:00", "Z")
        if text.endswith("+00:00")
        else text + ("" if value.tzinfo else "Z")
    )
