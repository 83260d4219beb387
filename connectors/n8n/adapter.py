"""The n8n connector: Webhook node URLs and community trigger node subscriptions (``/hooks/n8n``).

n8n takes one JSON object per request (one item), up to 16 MiB, with no documented rate limit
(reference §3.1). It answers ``200 {"message":"Workflow was started"}``. It never answers 410;
instead (reference §3.1, §4 rule 4, §9, observed on n8n 2.8.4):

- ``403 Authorization data is wrong!`` (401 for missing Basic credentials): the credential is
  wrong and every later request will be refused too, so the delivery fails at once and the
  destination is disabled until someone fixes it (no retry storm);
- ``404 … is not registered`` on a production ``/webhook/`` URL: the workflow is inactive (or the
  path wrong; n8n cannot tell them apart). The user may reactivate it, so retry a few times
  (``options.notRegisteredMaxAttempts``, default 5), then disable the destination;
- a ``/webhook-test/`` URL listens for 120 s and one call only, so a failure there is never
  retried for long (one attempt).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.n8n import mapping
from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, Verdict, classify_standard
from gateway.models import DestinationView, ErrorClass, Event

if TYPE_CHECKING:
    from gateway.adapters import Connector

MAX_BODY_BYTES = 16 * 1024 * 1024  # N8N_PAYLOAD_SIZE_MAX default, 16 MiB (reference §3.1)
NOT_REGISTERED_MAX_ATTEMPTS = 5  # default of options.notRegisteredMaxAttempts
FORBIDDEN_MAX_ATTEMPTS = 1  # a wrong credential is not retried
TEST_URL_MAX_ATTEMPTS = 1  # /webhook-test/ handles one call while listening
PRODUCTION_SEGMENT = "webhook"  # N8N_ENDPOINT_WEBHOOK default
TEST_SEGMENT = "webhook-test"  # N8N_ENDPOINT_WEBHOOK_TEST default
REASON_BODY_CHARS = 200  # how much of n8n's answer goes into the reason
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110 §5.1)


class N8nConnector:
    """The canonical event as one object per POST; see ``connectors.n8n.mapping``."""

    name: str = "n8n"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = None  # options.rateLimitPerSecond sets one

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        """Header Auth or Basic Auth from ``credentials``, as the Webhook node is configured."""
        _, body = mapping.render_body(
            event.type, event.data, event.id, body_cap(self.max_body_bytes, destination)
        )
        return RenderedRequest(url=destination.url, body=body, headers=auth_headers(destination))

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        code = response.status_code
        test_url = is_test_url(destination.url)
        if code in (401, 403):
            # Header/Basic auth refused (or an IP allowlist / bot filter): fixing it takes a human.
            return Outcome(
                Verdict.FAIL,
                f"wrong credential: n8n refused the request ({code}){_quoted(response.body)}; "
                "fix the destination's credentials, then enable it",
                ErrorClass.HTTP_STATUS,
                max_attempts=FORBIDDEN_MAX_ATTEMPTS,
                disable_when_exhausted=True,
            )
        if code == 404 and not test_url and is_not_registered(destination.url, response.body):
            return Outcome(
                Verdict.RETRY,
                "n8n workflow is not active: the webhook is not registered"
                + _quoted(response.body),
                ErrorClass.HTTP_STATUS,
                max_attempts=not_registered_max_attempts(destination),
                disable_when_exhausted=True,
            )
        if code == 413:
            # Over N8N_PAYLOAD_SIZE_MAX: the same bytes will never fit.
            return Outcome(
                Verdict.FAIL, "n8n refused the payload as too large (413)", ErrorClass.HTTP_STATUS
            )
        outcome = classify_standard(response)
        if test_url and outcome.verdict is Verdict.RETRY:
            reason = "n8n test URL is not listening" if code == 404 else outcome.reason
            return replace(outcome, reason=reason, max_attempts=TEST_URL_MAX_ATTEMPTS)
        return outcome

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """Exactly what ``render`` sends for this data.

        ``event_id`` is the live event's id; without one a stable synthetic id is derived.
        """
        body, _ = mapping.render_body(
            event_type, data, event_id or sample_event_id(data), self.max_body_bytes
        )
        return body


def auth_headers(destination: DestinationView) -> dict[str, str]:
    """``{headerName, headerValue}`` -> that header; ``{username, password}`` -> Basic."""
    creds = destination.credentials
    header = "headerName" in creds or "headerValue" in creds
    basic = "username" in creds or "password" in creds
    if header and basic:
        raise ValueError("n8n credentials: give headerName/headerValue or username/password")
    if header:
        name, value = creds.get("headerName"), creds.get("headerValue")
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError("n8n credentials.headerName must be an HTTP header name")
        if not isinstance(value, str) or not value.isprintable():
            raise ValueError("n8n credentials.headerValue must be a printable string")
        return {name: value}
    if basic:
        user, password = creds.get("username"), creds.get("password")
        if not isinstance(user, str) or ":" in user or not isinstance(password, str):
            raise ValueError("n8n credentials: username (without ':') and password are strings")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def is_test_url(url: str) -> bool:
    """A ``/webhook-test/`` URL: live only while the editor listens (reference §3.1)."""
    return TEST_SEGMENT in urlsplit(url).path.split("/")


def is_not_registered(url: str, body: bytes) -> bool:
    """A 404 from a production webhook URL, or n8n's own "is not registered" answer."""
    return PRODUCTION_SEGMENT in urlsplit(url).path.split("/") or b"is not registered" in body


def not_registered_max_attempts(destination: DestinationView) -> int:
    value = destination.options.get("notRegisteredMaxAttempts", NOT_REGISTERED_MAX_ATTEMPTS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return NOT_REGISTERED_MAX_ATTEMPTS
    return value


def body_cap(platform_max: int | None, destination: DestinationView) -> int | None:
    """The platform cap, lowered by ``options.maxBodyBytes`` (a smaller N8N_PAYLOAD_SIZE_MAX)."""
    option = destination.options.get("maxBodyBytes")
    if option is None:
        return platform_max
    if isinstance(option, bool) or not isinstance(option, int) or option <= 0:
        raise ValueError("options.maxBodyBytes must be a positive integer")
    return option if platform_max is None else min(option, platform_max)


def sample_event_id(data: Mapping[str, Any]) -> str:
    """A stable id for a sample without an event: derived from the task or response id."""
    return "evt_sample_" + str(data.get("taskId") or data.get("responseId") or "0")


def _quoted(body: bytes) -> str:
    """n8n's own words, for the attempt error: the JSON ``message`` or the start of the text."""
    text = body[:REASON_BODY_CHARS].decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        text = parsed["message"][:REASON_BODY_CHARS]
    return f": {text}" if text else ""


ADAPTER = N8nConnector()

if TYPE_CHECKING:
    _conforms: Connector = ADAPTER
