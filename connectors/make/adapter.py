"""The Make connector: attached hooks (``/hooks/make``) and pasted custom webhook URLs.

A Make custom webhook takes one bundle per request, at most 5 MB, about 30 requests per second
(300 per 10 s), and answers ``200 Accepted`` (reference §2.1, §2.3). A webhook that Make has
deactivated, or that no scenario listens to any more, answers 410: the destination is dead (§2.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.make import mapping
from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, Verdict, classify_standard
from gateway.models import DestinationView, ErrorClass, Event

if TYPE_CHECKING:
    from gateway.adapters import Connector

MAX_BODY_BYTES = 5_000_000  # Make custom webhook payload limit, 5 MB (reference §2.1)
RATE_LIMIT_PER_SECOND = 30.0  # 300 requests per 10 s per hook, then 429 (reference §2.1)
API_KEY_HEADER = "x-make-apikey"  # custom webhook API-key auth (reference §2.1)
API_KEY_MAX_CHARS = 512  # Make's limit on one key (reference §2.1)


class MakeConnector:
    """One nested camelCase bundle per POST; see ``connectors.make.mapping``."""

    name: str = "make"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = RATE_LIMIT_PER_SECOND

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        """``x-make-apikey`` is sent when ``credentials.apiKey`` is set."""
        _, body = mapping.render_body(
            event.type, event.data, event.id, body_cap(self.max_body_bytes, destination)
        )
        return RenderedRequest(url=destination.url, body=body, headers=auth_headers(destination))

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        code = response.status_code
        if code == 410:
            # The webhook was deactivated (unused for 5 days, deleted) or no scenario listens.
            return Outcome(
                Verdict.DISABLE,
                "Make answered 410 Gone: the webhook was deactivated or no scenario listens to it"
                + _quoted(response.body),
                ErrorClass.HTTP_STATUS,
                remove_subscription=True,
            )
        if code == 429:
            # Over 300 requests per 10 s; retried after Retry-After (reference §2.3).
            return Outcome(
                Verdict.RETRY, "Make throttled the webhook (429)", ErrorClass.HTTP_STATUS
            )
        if code == 413:
            # The same bytes will never fit: retrying cannot help.
            return Outcome(
                Verdict.FAIL, "Make refused the payload as too large (413)", ErrorClass.HTTP_STATUS
            )
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """Exactly what ``render`` sends for this data, every optional key present (§6.4).

        ``event_id`` is the live event's id; without one a stable synthetic id is derived.
        """
        body, _ = mapping.render_body(
            event_type, data, event_id or sample_event_id(data), self.max_body_bytes
        )
        return body


def auth_headers(destination: DestinationView) -> dict[str, str]:
    api_key = destination.credentials.get("apiKey")
    if api_key is None or api_key == "":
        return {}
    if (
        not isinstance(api_key, str)
        or len(api_key) > API_KEY_MAX_CHARS
        or not (api_key.isascii() and api_key.isprintable())
    ):
        raise ValueError(f"credentials.apiKey must be at most {API_KEY_MAX_CHARS} ASCII characters")
    return {API_KEY_HEADER: api_key}


def body_cap(platform_max: int | None, destination: DestinationView) -> int | None:
    """The platform cap, lowered by ``options.maxBodyBytes``."""
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
    text = body[:200].decode("utf-8", "replace").strip()
    return f": {text!r}" if text else ""


ADAPTER = MakeConnector()

if TYPE_CHECKING:
    _conforms: Connector = ADAPTER
