"""Inbound Qualtrics event-subscription callbacks: verify, then fetch the full response once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.qualtrics import mapping
from connectors.qualtrics.verify import is_completed_response, parse_qualtrics_callback
from gateway.adapters import InboundConnector, InboundStep, SourceView


class QualtricsInbound:
    def accept(self, body: bytes, headers: Mapping[str, str], source: SourceView) -> InboundStep:
        callback = parse_qualtrics_callback(body, source.secret)
        if not is_completed_response(callback):
            return InboundStep(event_id=None)
        survey_id, response_id = callback["SurveyID"], callback["ResponseID"]
        base_url = str(source.config.get("baseUrl") or "")
        token = str(source.config.get("apiToken") or "")
        if not base_url or not token:
            raise ValueError(
                "this Qualtrics source has no baseUrl/apiToken to fetch responses with"
            )
        return InboundStep(
            event_id=mapping.qualtrics_event_id(source.id, survey_id, response_id),
            fetch=mapping.response_request(base_url, token, survey_id, response_id),
            context={"surveyId": survey_id},
        )

    def finish(self, step: InboundStep, fetched: Any, source: SourceView) -> dict[str, Any]:
        return mapping.survey_data_from_response(
            fetched,
            survey_id=str(step.context["surveyId"]),
            source_id=source.id,
            questions=source.config.get("questions"),
        )


INBOUND: InboundConnector = QualtricsInbound()
