"""The typeform connector: ``task.completed`` as a signed Typeform ``form_response`` webhook.

The destination is a consumer that already reads Typeform webhooks (Typeform itself cannot take
responses by API). Options are described in ``connectors/typeform/mapping.py``. The body is signed
with ``Typeform-Signature`` using ``credentials["typeformSecret"]`` when set, else the destination's
primary secret string as-is; the worker adds the Standard Webhooks headers beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.typeform.mapping import delivery_event_id, encode_body, render_webhook
from connectors.typeform.verify import SIGNATURE_HEADER, sign_typeform
from gateway.adapters import (
    Connector,
    Outcome,
    RenderedRequest,
    ResponseInfo,
    classify_standard,
)
from gateway.errors import MappingError
from gateway.models import DestinationView, Event, EventType


class TypeformConnector:
    """Implements ``gateway.adapters.Connector`` for Typeform-shaped consumers."""

    name: str = "typeform"
    max_body_bytes: int | None = None  # Typeform documents no cap (the definition rides along)
    default_rate_limit_per_second: float | None = None  # a consumer, not Typeform's API

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        if event.type != EventType.TASK_COMPLETED:
            raise MappingError(f"the typeform connector renders task.completed, not {event.type}")
        payload = render_webhook(
            event.data, event_id=delivery_event_id(event.id), options=destination.options
        )
        body = encode_body(payload)
        headers: dict[str, str] = {}
        secret = destination.credentials.get("typeformSecret") or destination.primary_secret
        if secret:
            headers[SIGNATURE_HEADER] = sign_typeform(body, str(secret))
        return RenderedRequest(url=destination.url, body=body, headers=headers)

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """The body ``render`` sends to a destination without options (unsigned)."""
        if event_type != EventType.TASK_COMPLETED:
            raise MappingError(f"the typeform connector has no sample for {event_type}")
        gateway_id = event_id or f"sample:{data.get('taskId', '')}"
        return render_webhook(data, event_id=delivery_event_id(gateway_id), options={})


ADAPTER: Connector = TypeformConnector()
