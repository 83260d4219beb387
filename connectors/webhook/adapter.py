"""The plain ``webhook`` connector: the canonical envelope, Standard Webhooks semantics."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, classify_standard
from gateway.models import DestinationView, Event, StoredEvent, iso


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: the bytes we sign are the bytes we send."""
    return orjson.dumps(value)


def envelope_bytes(event: Event) -> bytes:
    """``dumps(event.envelope())``; a stored event's data goes in as its stored JSON text, not
    decoded and encoded again (``data`` is the envelope's last member)."""
    if not isinstance(event, StoredEvent):
        return dumps(event.envelope())
    head = dumps(
        {
            "id": event.id,
            "type": event.type,
            "timestamp": iso(event.created_at),
            "tenantId": event.tenant_id,
        }
    )
    return b"".join((head[:-1], b',"data":', event.data_json.encode(), b"}"))


class WebhookAdapter:
    name = "webhook"
    max_body_bytes: int | None = None
    default_rate_limit_per_second: float | None = None

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        return RenderedRequest(url=destination.url, body=envelope_bytes(event))

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        return dict(data)


ADAPTER = WebhookAdapter()
