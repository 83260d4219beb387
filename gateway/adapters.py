"""The connector Protocol: how an event becomes exact request bytes, and what a response means.

A connector is pure: ``render`` and ``classify`` touch no network, clock or randomness (``now`` is
passed in). The worker signs the rendered body with Standard Webhooks headers, sends it, and feeds
the response to ``classify``; the retry schedule itself lives in ``gateway/retry.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from gateway.models import DestinationView, ErrorClass, Event


@dataclass(frozen=True)
class RenderedRequest:
    """The exact request a connector wants sent. ``body`` is what gets signed and sent."""

    url: str
    body: bytes
    headers: dict[str, str] = field(
        default_factory=dict
    )  # connector headers (auth, Typeform-Signature)
    method: str = "POST"
    content_type: str = "application/json"


@dataclass(frozen=True)
class ResponseInfo:
    """What came back from one attempt (the body already cut to the first 4 KiB)."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Header ``name`` (given in lower case) from ``headers`` whatever their case: HTTP field
    names are case-insensitive (RFC 9110 §5.1). ``None`` when absent."""
    return next((value for key, value in headers.items() if key.lower() == name), None)


class Verdict(StrEnum):
    SUCCESS = "success"  # delivered
    RETRY = "retry"  # try again on the retry schedule (Retry-After honoured)
    FAIL = "fail"  # permanent: no more attempts for this delivery
    DISABLE = "disable"  # the destination is gone: fail this delivery and disable the destination


@dataclass(frozen=True)
class Outcome:
    """A connector's reading of one response."""

    verdict: Verdict
    reason: str = ""  # human text, kept as the attempt error / destination disabledReason
    error_class: ErrorClass | None = None  # None on success
    max_attempts: int | None = None  # caps this delivery's attempts (e.g. n8n /webhook-test/ URLs)
    disable_when_exhausted: bool = False  # when retries run out, disable the destination too
    remove_subscription: bool = (
        False  # DISABLE of a platform subscription deletes it (Zapier/Make 410)
    )


class Connector(Protocol):
    """Implemented once per connector (``connectors/<name>/adapter.py``)."""

    name: str
    max_body_bytes: int | None  # platform payload cap; None = no cap
    default_rate_limit_per_second: float | None  # platform rate cap; None = unlimited

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        """Map the event to the exact request; ``MappingError`` when the destination's options,
        credentials or mapping, or this event, cannot be mapped (the attempt fails with
        ``render``). Anything else raised here is a bug, recorded as ``internal`` and retried."""
        ...

    def classify(self, response: ResponseInfo, destination: DestinationView) -> Outcome:
        """Decide what this response means for the delivery and the destination."""
        ...

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """The platform-shaped object for one event's data, exactly as ``render`` would send it
        (subscription samples and polling triggers); ``event_id`` is the live event's id."""
        ...


def classify_standard(response: ResponseInfo) -> Outcome:
    """Standard Webhooks delivery semantics (CONTRACT §4): 2xx success, 410 disables, rest retries.

    3xx counts as failure (redirects are never followed). Connectors call this for every status
    they do not treat specially.
    """
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(Verdict.SUCCESS)
    if code == 410:
        return Outcome(
            Verdict.DISABLE,
            "destination answered 410 Gone",
            ErrorClass.HTTP_STATUS,
        )
    return Outcome(Verdict.RETRY, f"HTTP {code}", ErrorClass.HTTP_STATUS)


@dataclass(frozen=True)
class SourceView:
    """An inbound survey connection, secrets decrypted (what an inbound connector may know)."""

    id: str
    tenant_id: str
    kind: str
    secret: str | None  # Typeform's webhook secret / Qualtrics' shared key
    config: Mapping[str, Any] = field(default_factory=dict)  # Qualtrics: baseUrl, apiToken


@dataclass(frozen=True)
class InboundStep:
    """What an inbound callback asks for: nothing, an event, or one fetch then an event."""

    event_id: str | None  # None: a valid callback with nothing to store (partial, other topic)
    data: dict[str, Any] | None = None  # the event data, when the callback carries it all
    fetch: RenderedRequest | None = None  # else GET this, then call ``finish``
    context: Mapping[str, Any] = field(default_factory=dict)  # what ``finish`` needs back


class InboundConnector(Protocol):
    """Implemented by survey connectors that ingest (``connectors/<name>/inbound.py``)."""

    def accept(self, body: bytes, headers: Mapping[str, str], source: SourceView) -> InboundStep:
        """Verify and read a callback; ``SignatureError`` (401), else
        ``ValueError`` or ``MappingError`` (422)."""
        ...

    def finish(self, step: InboundStep, fetched: Any, source: SourceView) -> dict[str, Any]:
        """The event data once ``step.fetch`` has been answered with ``fetched`` (parsed JSON)."""
        ...
