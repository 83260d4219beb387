"""The qualtrics connector: ``task.completed`` as a response created in a Qualtrics survey.

``POST {destination.url}/API/v3/surveys/{options.surveyId}/responses`` with ``X-API-TOKEN`` from
``credentials["apiToken"]`` and ``{"values": {...}}`` (mapping rules in
``connectors/qualtrics/mapping.py``). Creating a response has no idempotency key, so a reply that
cannot improve by retrying (a bad token, a rejected body) fails the delivery at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.qualtrics.mapping import (
    DEFAULT_QUESTIONS,
    check_values_against_schema,
    render_values,
    responses_url,
)
from gateway.adapters import (
    Connector,
    Outcome,
    RenderedRequest,
    ResponseInfo,
    Verdict,
    classify_standard,
)
from gateway.errors import MappingError
from gateway.models import DestinationView, ErrorClass, Event, EventType


class QualtricsConnector:
    """Implements ``gateway.adapters.Connector`` for the Qualtrics responses API."""

    name: str = "qualtrics"
    max_body_bytes: int | None = None  # no documented cap for one JSON response
    # Qualtrics publishes no number (leaky bucket, 429 when full; reference §8): stay gentle.
    default_rate_limit_per_second: float | None = 2.0

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        if event.type != EventType.TASK_COMPLETED:
            raise MappingError(f"the qualtrics connector renders task.completed, not {event.type}")
        options = destination.options
        survey_id = options.get("surveyId")
        if not survey_id:
            raise MappingError("options.surveyId is required (the Qualtrics survey id, SV_...)")
        token = destination.credentials.get("apiToken")
        if not token:
            raise MappingError("credentials.apiToken is required (the Qualtrics X-API-TOKEN)")
        payload = render_values(event.data, options=options, recorded_at=event.created_at)
        schema = options.get("responseSchema")
        if isinstance(schema, Mapping):
            problems = check_values_against_schema(payload["values"], schema)
            if problems:
                raise MappingError(
                    "values break the survey's response schema: " + "; ".join(problems)
                )
        return RenderedRequest(
            url=responses_url(destination.url, str(survey_id)),
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            headers={"X-API-TOKEN": str(token)},
        )

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        code = response.status_code
        if 200 <= code < 300:
            status = _meta(response.body).get("httpStatus")
            if status is None or str(status).startswith("2"):
                return Outcome(Verdict.SUCCESS)
            return _fail(f"HTTP {code} but Qualtrics says {status}")
        if code in (401, 403):
            return _fail(f"Qualtrics refused the API token (HTTP {code}){_message(response)}")
        if code == 400:
            return _fail(f"Qualtrics rejected the response body (HTTP 400){_message(response)}")
        if code == 429:
            return Outcome(Verdict.RETRY, "Qualtrics rate limit (HTTP 429)", ErrorClass.HTTP_STATUS)
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """The body ``render`` sends with the default mapping (unmapped questions left out);
        ``recordedDate`` is the completion time, as no event record exists for a sample."""
        if event_type != EventType.TASK_COMPLETED:
            raise MappingError(f"the qualtrics connector has no sample for {event_type}")
        completed = datetime.fromisoformat(str(data["completedAt"]).replace("Z", "+00:00"))
        options = {"questions": DEFAULT_QUESTIONS, "skipUnmapped": True}
        return render_values(data, options=options, recorded_at=completed.astimezone(UTC))


def _fail(reason: str) -> Outcome:
    return Outcome(Verdict.FAIL, reason, ErrorClass.HTTP_STATUS)


def _meta(body: bytes) -> dict[str, Any]:
    """``meta`` of a Qualtrics reply; empty when the (possibly cut) body does not parse."""
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    meta = decoded.get("meta") if isinstance(decoded, dict) else None
    return meta if isinstance(meta, dict) else {}


def _message(response: ResponseInfo) -> str:
    error = _meta(response.body).get("error")
    if isinstance(error, dict) and error.get("errorMessage"):
        return f": {error['errorMessage']}"
    return ""


ADAPTER: Connector = QualtricsConnector()
