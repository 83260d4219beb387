"""What the connectors share: body encoding and cutting, reading event data, UTC timestamps, and
the ``render``/``samples``/``classify`` pieces of the Zapier, Make and n8n adapters.

Pure: no network, clock or randomness. Where two connectors differ (a list separator, whether NaN
may be encoded, which statuses a platform documents), the difference is a parameter here and the
connector passes its own value, so every platform's choice stays visible in its own module.
Connectors import this module; ``gateway`` never does (it reaches connectors via its registry).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.adapters import Outcome, RenderedRequest, ResponseInfo, Verdict, classify_standard
from gateway.errors import MappingError
from gateway.models import DestinationView, ErrorClass, Event, EventType

Body = dict[str, Any]

CHOICE_TYPES = frozenset(
    {
        "single_choice",
        "multi_choice",
        "choice",
        "choices",
        "multiple_choice",
        "dropdown",
        "picture_choice",
        "ranking",
    }
)  # answer types that carry option labels (person.run, Typeform, Qualtrics normalisers)
SAMPLE_ID_PREFIX = "evt_sample_"  # a sample rendered without a live event


# ---------------------------------------------------------------------------------------------
# bodies: the exact bytes, and the transcript cut to fit a platform's cap


def encode_body(body: Mapping[str, Any], *, allow_nan: bool = False) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept raw: the bytes that are signed and sent.

    NaN/Infinity raise ``ValueError`` unless ``allow_nan`` (then they are written as the
    non-standard ``NaN``/``Infinity`` tokens).
    """
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan).encode()


def fit_transcript(
    build: Callable[[int], Body], turn_count: int, max_bytes: int | None
) -> tuple[Body, bytes]:
    """The body with the most leading turns whose encoding fits ``max_bytes``.

    ``build(k)`` renders the body with the first ``k`` turns; its size grows with ``k``, so a
    binary search finds the largest fit. When even ``k = 0`` is too big, that smallest body is
    returned and the caller (the core's cap check) reports ``payload_too_large``.
    """
    body = build(turn_count)
    raw = encode_body(body)
    if max_bytes is None or len(raw) <= max_bytes:
        return body, raw
    best = build(0)
    best_raw = encode_body(best)
    lo, hi = 0, turn_count - 1
    while lo < hi and len(best_raw) <= max_bytes:
        mid = (lo + hi + 1) // 2
        candidate = build(mid)
        candidate_raw = encode_body(candidate)
        if len(candidate_raw) <= max_bytes:
            lo, best, best_raw = mid, candidate, candidate_raw
        else:
            hi = mid - 1
    return best, best_raw


class TaskMapper(Protocol):
    """``task.completed`` data -> a platform body, keeping only the first ``keep_turns`` turns."""

    def __call__(
        self, data: Mapping[str, Any], event_id: str, *, keep_turns: int | None = None
    ) -> Body: ...


@dataclass(frozen=True)
class EventMapping:
    """One platform's mapping of the two event types, dispatched by event type."""

    connector: str  # named in the error for an event type without a mapping
    map_task_completed: TaskMapper
    map_survey_response: Callable[[Mapping[str, Any], str], Body]

    def map_event(self, event_type: str, data: Mapping[str, Any], event_id: str) -> Body:
        """The full (untrimmed) body for one event; ``MappingError`` for an unknown type."""
        if event_type == EventType.TASK_COMPLETED:
            return self.map_task_completed(data, event_id)
        if event_type == EventType.SURVEY_RESPONSE_COMPLETED:
            return self.map_survey_response(data, event_id)
        if event_type.startswith("gateway."):
            return map_operational(event_type, data, event_id)
        raise MappingError(f"{self.connector}: no mapping for event type {event_type!r}")

    def render_body(
        self, event_type: str, data: Mapping[str, Any], event_id: str, max_bytes: int | None
    ) -> tuple[Body, bytes]:
        """The body and its exact bytes, the transcript cut when the bytes exceed ``max_bytes``."""
        if event_type == EventType.TASK_COMPLETED:
            turns = as_list(data.get("turns"))
            return fit_transcript(
                lambda keep: self.map_task_completed(data, event_id, keep_turns=keep),
                len(turns),
                max_bytes,
            )
        body = self.map_event(event_type, data, event_id)
        return body, encode_body(body)


def map_operational(event_type: str, data: Mapping[str, Any], event_id: str) -> Body:
    """An operational event (``gateway.*``, flat already) for any platform: snake_case keys and
    the event id as the unique ``id`` (Zapier deduplicates on it), the type beside it."""
    body: dict[str, Any] = {"id": event_id, "type": event_type}
    for key, value in data.items():
        body[re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()] = value
    return body


# ---------------------------------------------------------------------------------------------
# reading event data: a mapping never drops data, and a wrong-typed field reads as empty


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def iso_offset(value: Any) -> Any:
    """An ISO 8601 string with an offset: a naive timestamp is read as UTC (Zapier §1.3).

    Anything that does not parse is passed through unchanged: a mapping never drops data.
    """
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        return value
    return parsed.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TaskParts:
    """A ``task.completed`` event's objects, each ``{}`` when missing or mistyped, its turns and
    the leading ``kept`` turns that go into a body cut to fit."""

    persona: dict[str, Any]
    skill: dict[str, Any]
    results: dict[str, Any]
    scores: dict[str, Any]
    links: dict[str, Any]
    turns: list[dict[str, Any]]
    kept: list[dict[str, Any]]

    @property
    def truncated(self) -> bool:
        return len(self.kept) < len(self.turns)


def split_task(data: Mapping[str, Any], keep_turns: int | None) -> TaskParts:
    """``data``'s objects and turns, keeping the first ``keep_turns`` turns (all when ``None``)."""
    turns = [as_dict(t) for t in as_list(data.get("turns"))]
    return TaskParts(
        persona=as_dict(data.get("persona")),
        skill=as_dict(data.get("skill")),
        results=as_dict(data.get("results")),
        scores=as_dict(data.get("scores")),
        links=as_dict(data.get("links")),
        turns=turns,
        kept=turns if keep_turns is None else turns[:keep_turns],
    )


def transcript_items(turns: Iterable[Mapping[str, Any]]) -> list[Body]:
    """Turns as line items ``{turn, role, text, at}``, ``at`` with an offset."""
    return [
        {
            "turn": t.get("index"),
            "role": t.get("role"),
            "text": t.get("text"),
            "at": iso_offset(t.get("at")),
        }
        for t in turns
    ]


def join_list(value: Any, separator: str) -> Any:
    """A list joined to text (``None`` when empty); anything else as is."""
    if isinstance(value, list):
        return separator.join(str(v) for v in value) or None
    return value


def is_choice(answer: Mapping[str, Any]) -> bool:
    return answer.get("type") in CHOICE_TYPES or "optionLabels" in answer or "options" in answer


def choice_label(answer: Mapping[str, Any], separator: str) -> str | None:
    """The chosen options' labels joined: ``optionLabels``, else looked up in ``options``."""
    labels = answer.get("optionLabels")
    if not isinstance(labels, list):
        by_key = {
            str(o.get("key")): o.get("label") for o in map(as_dict, as_list(answer.get("options")))
        }
        value = answer.get("value")
        chosen = value if isinstance(value, list) else [] if value is None else [value]
        labels = [by_key[str(v)] for v in chosen if str(v) in by_key]
    return separator.join(str(label) for label in labels) or None


def add_unique(target: Body, pairs: Iterable[tuple[str, Any]]) -> None:
    """Add dynamic keys without overwriting: a clash gets ``_2``, ``_3`` (stable for one form)."""
    for key, value in pairs:
        unique, n = key, 1
        while unique in target:
            n += 1
            unique = f"{key}_{n}"
        target[unique] = value


# ---------------------------------------------------------------------------------------------
# UTC timestamps as the survey platforms (Typeform, Qualtrics) write them


def parse_utc(text: str) -> datetime:
    """ISO 8601, or the export form ``2023-03-31 15:31:53``, as UTC; naive means UTC."""
    moment = datetime.fromisoformat(text.replace(" ", "T"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_seconds(moment: datetime) -> str:
    """``2024-05-14T16:21:09Z``: a UTC moment to the second with ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# adapters of the platforms that take one mapped JSON object per POST (Zapier, Make, n8n)


def body_cap(platform_max: int | None, destination: DestinationView) -> int | None:
    """The platform cap, lowered by ``options.maxBodyBytes`` (e.g. a 2 MB Zapier Catch Raw Hook,
    a smaller N8N_PAYLOAD_SIZE_MAX); ``MappingError`` unless that is a positive integer."""
    option = destination.options.get("maxBodyBytes")
    if option is None:
        return platform_max
    if isinstance(option, bool) or not isinstance(option, int) or option <= 0:
        raise MappingError("options.maxBodyBytes must be a positive integer")
    return option if platform_max is None else min(option, platform_max)


def sample_event_id(data: Mapping[str, Any]) -> str:
    """A stable id for a sample without an event: derived from the task or response id."""
    return SAMPLE_ID_PREFIX + str(data.get("taskId") or data.get("responseId") or "0")


def classify_platform(
    response: ResponseInfo,
    *,
    platform: str,
    gone: str | None = None,
    throttled: str | None = None,
) -> Outcome:
    """The answers a platform documents, else the standard rules (``classify_standard``).

    - 410 with ``gone`` (the reason): the subscription is dead; disable and delete it;
    - 429 with ``throttled`` (the reason): retried after Retry-After;
    - 413: the same bytes will never fit, so retrying cannot help.

    Without ``gone``/``throttled`` a 410/429 follows the standard rules.
    """
    code = response.status_code
    if code == 410 and gone is not None:
        return Outcome(Verdict.DISABLE, gone, ErrorClass.HTTP_STATUS, remove_subscription=True)
    if code == 429 and throttled is not None:
        return Outcome(Verdict.RETRY, throttled, ErrorClass.HTTP_STATUS)
    if code == 413:
        reason = f"{platform} refused the payload as too large (413)"
        return Outcome(Verdict.FAIL, reason, ErrorClass.HTTP_STATUS)
    return classify_standard(response)


class MappedConnector:
    """``render`` and ``samples`` of a connector that POSTs one mapped JSON object per event.

    A subclass sets the ``Connector`` attributes and ``event_mapping``, defines ``classify`` and
    overrides ``headers`` when the platform takes credentials.
    """

    name: str
    max_body_bytes: int | None
    default_rate_limit_per_second: float | None
    event_mapping: EventMapping

    def render(self, event: Event, destination: DestinationView, now: datetime) -> RenderedRequest:
        """The mapped body, cut to ``body_cap``, with the platform's ``headers``."""
        _, body = self.event_mapping.render_body(
            event.type, event.data, event.id, body_cap(self.max_body_bytes, destination)
        )
        return RenderedRequest(url=destination.url, body=body, headers=self.headers(destination))

    def headers(self, destination: DestinationView) -> dict[str, str]:
        """The platform's own headers (auth); ``MappingError`` for unusable credentials."""
        return {}

    def samples(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        """Exactly what ``render`` sends for this data, under the platform cap.

        ``event_id`` is the live event's id; without one a stable synthetic id is derived.
        """
        body, _ = self.event_mapping.render_body(
            event_type, data, event_id or sample_event_id(data), self.max_body_bytes
        )
        return body
