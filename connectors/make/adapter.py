"""The Make connector: attached hooks (``/hooks/make``) and pasted custom webhook URLs.

A Make custom webhook takes one bundle per request, at most 5 MB, about 30 requests per second
(300 per 10 s), and answers ``200 Accepted`` (reference §2.1, §2.3). A webhook that Make has
deactivated, or that no scenario listens to any more, answers 410: the destination is dead (§2.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors._shared import EventMapping, MappedConnector, classify_platform
from connectors.make import mapping
from gateway.adapters import Outcome, ResponseInfo
from gateway.errors import MappingError
from gateway.models import DestinationView

if TYPE_CHECKING:
    from gateway.adapters import Connector

MAX_BODY_BYTES = 5_000_000  # Make custom webhook payload limit, 5 MB (reference §2.1)
RATE_LIMIT_PER_SECOND = 30.0  # 300 requests per 10 s per hook, then 429 (reference §2.1)
API_KEY_HEADER = "x-make-apikey"  # custom webhook API-key auth (reference §2.1)
API_KEY_MAX_CHARS = 512  # Make's limit on one key (reference §2.1)


class MakeConnector(MappedConnector):
    """One nested camelCase bundle per POST; see ``connectors.make.mapping``.

    Samples carry every optional key, as the live bundles do (§6.4).
    """

    name: str = "make"
    max_body_bytes: int | None = MAX_BODY_BYTES
    default_rate_limit_per_second: float | None = RATE_LIMIT_PER_SECOND
    event_mapping: EventMapping = mapping.MAPPING

    def headers(self, destination: DestinationView) -> dict[str, str]:
        """``x-make-apikey`` is sent when ``credentials.apiKey`` is set."""
        return auth_headers(destination)

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        # 410: the webhook was deactivated (unused for 5 days, deleted) or no scenario listens.
        # 429: over 300 requests per 10 s; retried after Retry-After (reference §2.3).
        return classify_platform(
            response,
            platform="Make",
            gone="Make answered 410 Gone: the webhook was deactivated or no scenario listens to it"
            + _quoted(response.body),
            throttled="Make throttled the webhook (429)",
        )


def auth_headers(destination: DestinationView) -> dict[str, str]:
    api_key = destination.credentials.get("apiKey")
    if api_key is None or api_key == "":
        return {}
    if (
        not isinstance(api_key, str)
        or len(api_key) > API_KEY_MAX_CHARS
        or not (api_key.isascii() and api_key.isprintable())
    ):
        raise MappingError(
            f"credentials.apiKey must be at most {API_KEY_MAX_CHARS} ASCII characters"
        )
    return {API_KEY_HEADER: api_key}


def _quoted(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return f": {text!r}" if text else ""


ADAPTER = MakeConnector()

if TYPE_CHECKING:
    _conforms: Connector = ADAPTER
