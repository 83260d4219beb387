"""The plain ``webhook`` connector: the canonical envelope, Standard Webhooks semantics."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, classify_standard
from gateway.models import DestinationView, Event


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: the bytes we sign are the bytes we send."""
    return orjson.dumps(value)


class WebhookAdapter:
    name = "webhook"
    max_body_bytes: int | None = None
    default_rate_limit_per_second: float | None = None

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        return RenderedRequest(url=destination.url, body=dumps(event.envelope()))

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        return dict(data)


ADAPTER = WebhookAdapter()
