"""Pure mapping: an event -> the one JSON object an n8n Webhook node or trigger node receives.

n8n turns one request into one item and keeps nested JSON as is (reference §3.1), so the body is
the canonical event (reference §6.0, §6.7, §6.8): ``{"id", "type", "occurredAt", "data"}`` with
``data`` in the catalog's shape (``gateway/catalog/<type>.schema.json``), which n8n users reference
as ``{{$json.body.data.persona.name}}``. Optional fields are filled in (``null``, or ``[]``/``{}``
where the schema wants a list or object), so every event of a type has the same keys and ``data``
still validates against the catalog schema.

When the encoded body is over the cap (16 MiB), ``data.turns`` is cut (a prefix of whole turns is
kept), ``transcriptTruncated`` is true and ``data.links.transcript`` still points at the full one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.models import EventType

Body = dict[str, Any]

# Optional catalog fields and what stands in when they are missing (catalog schemas).
TASK_DEFAULTS: dict[str, Any] = {
    "studyName": None,
    "runId": None,
    "skill": None,
    "createdAt": None,
    "startedAt": None,
    "links": {},
    "provenance": {},
}
PERSONA_DEFAULTS: dict[str, Any] = {
    "age": None,
    "location": None,
    "occupation": None,
    "segment": None,
}
SURVEY_DEFAULTS: dict[str, Any] = {"sourceId": None, "landedAt": None, "hidden": {}, "raw": None}
ANSWER_DEFAULTS: dict[str, Any] = {"questionRef": None, "prompt": None}
# The catalog's key order, so a filled-in event reads like a complete one.
TASK_ORDER = (
    "taskId",
    "studyId",
    "studyName",
    "runId",
    "status",
    "persona",
    "skill",
    "createdAt",
    "startedAt",
    "completedAt",
    "results",
    "turns",
    "scores",
    "links",
    "provenance",
)
SURVEY_ORDER = (
    "source",
    "sourceId",
    "formId",
    "responseId",
    "submittedAt",
    "landedAt",
    "answers",
    "hidden",
    "raw",
)
PERSONA_ORDER = ("id", "name", "age", "location", "occupation", "segment")
ANSWER_ORDER = ("questionId", "questionRef", "type", "prompt", "value")
TIMESTAMP_FIELDS = ("createdAt", "startedAt", "completedAt", "submittedAt", "landedAt")


def map_event(event_type: str, data: Mapping[str, Any], event_id: str) -> Body:
    """The full (untrimmed) n8n object for one event; ``ValueError`` for an unknown type."""
    if event_type == EventType.TASK_COMPLETED:
        return map_task_completed(data, event_id)
    if event_type == EventType.SURVEY_RESPONSE_COMPLETED:
        return map_survey_response(data, event_id)
    raise ValueError(f"n8n: no mapping for event type {event_type!r}")


def render_body(
    event_type: str, data: Mapping[str, Any], event_id: str, max_bytes: int | None
) -> tuple[Body, bytes]:
    """The object and its exact bytes, ``data.turns`` cut when the bytes exceed ``max_bytes``."""
    if event_type == EventType.TASK_COMPLETED:
        turns = _list(data.get("turns"))
        return fit_transcript(
            lambda keep: map_task_completed(data, event_id, keep_turns=keep), len(turns), max_bytes
        )
    body = map_event(event_type, data, event_id)
    return body, encode_body(body)


def map_task_completed(
    data: Mapping[str, Any], event_id: str, *, keep_turns: int | None = None
) -> Body:
    turns = [_with_defaults(t, {"at": None}) for t in _list(data.get("turns"))]
    kept = turns if keep_turns is None else turns[:keep_turns]
    results = _dict(data.get("results"))
    scores = _dict(data.get("scores"))
    normal = {
        **_with_defaults(data, TASK_DEFAULTS),
        "persona": _ordered(_with_defaults(data.get("persona"), PERSONA_DEFAULTS), PERSONA_ORDER),
        "results": _ordered(
            {**_with_defaults(results, {"summary": None}), "answers": _answers(results)},
            ("summary", "answers"),
        ),
        "turns": [{**t, "at": iso_offset(t["at"])} for t in kept],
        "scores": _ordered(
            {**scores, "overall": scores.get("overall"), "criteria": _list(scores.get("criteria"))},
            ("overall", "criteria"),
        ),
    }
    return {
        "id": event_id,
        "type": EventType.TASK_COMPLETED.value,
        "occurredAt": iso_offset(data.get("completedAt")),
        "transcriptTruncated": len(kept) < len(turns),
        "data": _with_iso_timestamps(_ordered(normal, TASK_ORDER)),
    }


def map_survey_response(data: Mapping[str, Any], event_id: str) -> Body:
    normal = {
        **_with_defaults(data, SURVEY_DEFAULTS),
        "answers": _answers(data),
    }
    return {
        "id": event_id,
        "type": EventType.SURVEY_RESPONSE_COMPLETED.value,
        "occurredAt": iso_offset(data.get("submittedAt")),
        "data": _with_iso_timestamps(_ordered(normal, SURVEY_ORDER)),
    }


def iso_offset(value: Any) -> Any:
    """An ISO 8601 string with an offset: a naive timestamp is read as UTC; others pass through."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        return value
    return parsed.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def encode_body(body: Body) -> bytes:
    """Compact UTF-8 JSON: the bytes that are signed and sent. NaN/Infinity raise ``ValueError``."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


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


def _with_defaults(value: Any, defaults: Mapping[str, Any]) -> Body:
    """``value``'s keys in order, then each missing default (a key set to ``None`` is kept)."""
    given = _dict(value)
    return {**given, **{k: v for k, v in defaults.items() if k not in given}}


def _answers(parent: Mapping[str, Any]) -> list[Body]:
    return [
        _ordered(_with_defaults(a, ANSWER_DEFAULTS), ANSWER_ORDER)
        for a in _list(parent.get("answers"))
    ]


def _ordered(value: Body, order: tuple[str, ...]) -> Body:
    """The keys named in ``order`` first, in that order, then the rest as they came."""
    return {**{k: value[k] for k in order if k in value}, **value}


def _with_iso_timestamps(data: Body) -> Body:
    return {k: iso_offset(v) if k in TIMESTAMP_FIELDS else v for k, v in data.items()}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
