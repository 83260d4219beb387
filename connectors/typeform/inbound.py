"""Inbound Typeform webhooks -> ``survey.response.completed`` (verify over the raw bytes first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.typeform import mapping
from connectors.typeform.verify import verify_typeform_signature
from gateway.adapters import InboundConnector, InboundStep, SourceView, header_value


class TypeformInbound:
    def accept(self, body: bytes, headers: Mapping[str, str], source: SourceView) -> InboundStep:
        verify_typeform_signature(
            body, header_value(headers, "typeform-signature"), source.secret or ""
        )
        payload = mapping.parse_webhook(body)
        if payload["event_type"] != mapping.EVENT_TYPE_COMPLETED:
            return InboundStep(event_id=None)  # form_response_partial: acknowledged, not stored
        data = mapping.survey_data_from_webhook(payload, source_id=source.id)
        event_id = mapping.typeform_event_id(source.id, data["formId"], data["responseId"])
        return InboundStep(event_id=event_id, data=data)

    def finish(self, step: InboundStep, fetched: Any, source: SourceView) -> dict[str, Any]:
        raise NotImplementedError("Typeform webhooks carry the whole response")


INBOUND: InboundConnector = TypeformInbound()
