"""The Zapier connector: REST hook subscriptions (``/hooks/zapier``) and pasted Catch Hook URLs.

Zapier limits a hook to 10 MB per request and 30 requests per second (reference §1.6). A REST
hook whose Zap was turned off answers 410: the subscription is gone and must be deleted (§1.1).
A Catch Hook answers 200 whether or not a Zap listens (§1.4), so it never disables itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.zapier import mapping
from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, Verdict, classify_standard
from gateway.models import DestinationView, ErrorClass, Event

if TYPE_CHECKING:
    from gateway.adapters import Connector

MAX_BODY_BYTES = 10_000_000  # Zapier webhook payload limit, 10 MB (reference §1.6)
RATE_LIMIT_PER_SECOND = 30.0  # per hook URL, then 429 (reference §1.6)


class ZapierConnector:
    """One flat snake_case object per POST; see ``connectors.zapier.mapping``."""

    name: str = "zapier"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = RATE_LIMIT_PER_SECOND

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        """No platform headers: a Zapier hook URL is its own secret (reference §5, auth row)."""
        _, body = mapping.render_body(
            event.type, event.data, event.id, body_cap(self.max_body_bytes, destination)
        )
        return RenderedRequest(url=destination.url, body=body)

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        code = response.status_code
        if code == 410:
            # REST hook: the Zap was turned off or deleted; stop and delete the subscription (§1.1).
            return Outcome(
                Verdict.DISABLE,
                "Zapier answered 410 Gone: the Zap was turned off or deleted",
                ErrorClass.HTTP_STATUS,
                remove_subscription=True,
            )
        if code == 429:
            # Over 30 requests/s per hook or the per-user budget; retried after Retry-After (§1.6).
            return Outcome(Verdict.RETRY, "Zapier throttled the hook (429)", ErrorClass.HTTP_STATUS)
        if code == 413:
            # The same bytes will never fit: retrying cannot help.
            return Outcome(
                Verdict.FAIL,
                "Zapier refused the payload as too large (413)",
                ErrorClass.HTTP_STATUS,
            )
        return classify_standard(response)

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """Exactly what ``render`` sends for this data (the performList / sample shape, §1.1).

        ``event_id`` is the live event's id; without one a stable synthetic id is derived.
        """
        body, _ = mapping.render_body(
            event_type, data, event_id or sample_event_id(data), self.max_body_bytes
        )
        return body


def body_cap(platform_max: int | None, destination: DestinationView) -> int | None:
    """The platform cap, lowered by ``options.maxBodyBytes`` (e.g. a 2 MB Catch Raw Hook)."""
    option = destination.options.get("maxBodyBytes")
    if option is None:
        return platform_max
    if isinstance(option, bool) or not isinstance(option, int) or option <= 0:
        raise ValueError("options.maxBodyBytes must be a positive integer")
    return option if platform_max is None else min(option, platform_max)


def sample_event_id(data: Mapping[str, Any]) -> str:
    """A stable id for a sample without an event: derived from the task or response id."""
    return "evt_sample_" + str(data.get("taskId") or data.get("responseId") or "0")


ADAPTER = ZapierConnector()

if TYPE_CHECKING:
    _conforms: Connector = ADAPTER
