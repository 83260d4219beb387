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
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from connectors._shared import EventMapping, MappedConnector, classify_platform
from connectors.n8n import mapping
from gateway.adapters import Outcome, ResponseInfo, Verdict
from gateway.errors import MappingError
from gateway.models import DestinationView, ErrorClass

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


class N8nConnector(MappedConnector):
    """The canonical event as one object per POST; see ``connectors.n8n.mapping``."""

    name: str = "n8n"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = None  # options.rateLimitPerSecond sets one
    event_mapping: EventMapping = mapping.MAPPING

    def headers(self, destination: DestinationView) -> dict[str, str]:
        """Header Auth or Basic Auth from ``credentials``, as the Webhook node is configured."""
        return auth_headers(destination)

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
        # 413: over N8N_PAYLOAD_SIZE_MAX. n8n never answers 410; 429 (Cloud throttling) and
        # everything else follow the standard rules.
        outcome = classify_platform(response, platform="n8n")
        if test_url and outcome.verdict is Verdict.RETRY:
            reason = "n8n test URL is not listening" if code == 404 else outcome.reason
            return replace(outcome, reason=reason, max_attempts=TEST_URL_MAX_ATTEMPTS)
        return outcome


def auth_headers(destination: DestinationView) -> dict[str, str]:
    """``{headerName, headerValue}`` -> that header; ``{username, password}`` -> Basic."""
    creds = destination.credentials
    header = "headerName" in creds or "headerValue" in creds
    basic = "username" in creds or "password" in creds
    if header and basic:
        raise MappingError("n8n credentials: give headerName/headerValue or username/password")
    if header:
        name, value = creds.get("headerName"), creds.get("headerValue")
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise MappingError("n8n credentials.headerName must be an HTTP header name")
        if not isinstance(value, str) or not value.isprintable():
            raise MappingError("n8n credentials.headerValue must be a printable string")
        return {name: value}
    if basic:
        user, password = creds.get("username"), creds.get("password")
        if not isinstance(user, str) or ":" in user or not isinstance(password, str):
            raise MappingError("n8n credentials: username (without ':') and password are strings")
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
