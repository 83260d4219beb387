"""The Zapier connector: REST hook subscriptions (``/hooks/zapier``) and pasted Catch Hook URLs.

Zapier limits a hook to 10 MB per request and 30 requests per second (reference §1.6). A REST
hook whose Zap was turned off answers 410: the subscription is gone and must be deleted (§1.1).
A Catch Hook answers 200 whether or not a Zap listens (§1.4), so it never disables itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors._shared import EventMapping, MappedConnector, classify_platform
from connectors.zapier import mapping
from gateway.adapters import Outcome, ResponseInfo
from gateway.models import DestinationView

if TYPE_CHECKING:
    from gateway.adapters import Connector

MAX_BODY_BYTES = 10_000_000  # Zapier webhook payload limit, 10 MB (reference §1.6)
RATE_LIMIT_PER_SECOND = 30.0  # per hook URL, then 429 (reference §1.6)


class ZapierConnector(MappedConnector):
    """One flat snake_case object per POST; see ``connectors.zapier.mapping``.

    No platform headers: a Zapier hook URL is its own secret (reference §5, auth row). Samples
    are the performList / sample shape (§1.1).
    """

    name: str = "zapier"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = RATE_LIMIT_PER_SECOND
    event_mapping: EventMapping = mapping.MAPPING

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        # 410: a REST hook's Zap was turned off or deleted; stop and delete the subscription (§1.1).
        # 429: over 30 requests/s per hook or the per-user budget; retried after Retry-After (§1.6).
        return classify_platform(
            response,
            platform="Zapier",
            gone="Zapier answered 410 Gone: the Zap was turned off or deleted",
            throttled="Zapier throttled the hook (429)",
        )


ADAPTER = ZapierConnector()

if TYPE_CHECKING:
    _conforms: Connector = ADAPTER
