"""Pure mapping: an event's ``data`` -> the one nested bundle a Make custom webhook receives.

Make turns one request into one bundle and keeps nested JSON nested (reference §2.1, §6.4), so
the body is one camelCase object with collections (``persona``, ``scores``) and arrays for an
Iterator (``transcript``, ``result.answers``). Make learns the mappable fields from the first
request it sees, so every optional key is present on every event, ``null`` when empty (§6.4).
``result.fields`` maps each question's ref to its value for direct mapping
(``1.result.fields.purchase_intent``).

When the encoded body is over the cap (5 MB), the transcript is cut (a prefix of whole turns is
kept), ``transcriptTruncated`` is true and ``links.transcript`` still points at the full one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.models import EventType

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
LABEL_SEPARATOR = ", "

Body = dict[str, Any]


def map_event(event_type: str, data: Mapping[str, Any], event_id: str) -> Body:
    """The full (untrimmed) Make bundle for one event; ``ValueError`` for an unknown type."""
    if event_type == EventType.TASK_COMPLETED:
        return map_task_completed(data, event_id)
    if event_type == EventType.SURVEY_RESPONSE_COMPLETED:
        return map_survey_response(data, event_id)
    raise ValueError(f"make: no mapping for event type {event_type!r}")


def render_body(
    event_type: str, data: Mapping[str, Any], event_id: str, max_bytes: int | None
) -> tuple[Body, bytes]:
    """The bundle and its exact bytes, the transcript cut when the bytes exceed ``max_bytes``."""
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
    persona = _dict(data.get("persona"))
    skill = _dict(data.get("skill"))
    results = _dict(data.get("results"))
    scores = _dict(data.get("scores"))
    links = _dict(data.get("links"))
    turns = [_dict(t) for t in _list(data.get("turns"))]
    kept = turns if keep_turns is None else turns[:keep_turns]
    return {
        "eventId": event_id,
        "event": EventType.TASK_COMPLETED.value,
        "occurredAt": iso_offset(data.get("completedAt")),
        "taskId": data.get("taskId"),
        "runId": data.get("runId"),
        "status": data.get("status"),
        "study": {"id": data.get("studyId"), "name": data.get("studyName")},
        "persona": {
            key: persona.get(key)
            for key in ("id", "name", "age", "location", "occupation", "segment")
        },
        "skill": {"id": skill.get("id"), "name": skill.get("name")},
        "createdAt": iso_offset(data.get("createdAt")),
        "startedAt": iso_offset(data.get("startedAt")),
        "completedAt": iso_offset(data.get("completedAt")),
        "synthetic": _dict(data.get("provenance")).get("synthetic"),
        "result": {"summary": results.get("summary"), **map_answers(results.get("answers"))},
        "scores": {
            "overall": scores.get("overall"),
            "criteria": [
                {"key": c.get("key"), "name": c.get("name"), "score": c.get("score")}
                for c in map(_dict, _list(scores.get("criteria")))
            ],
        },
        "transcriptTurnCount": len(turns),
        "transcriptTruncated": len(kept) < len(turns),
        "transcript": [
            {
                "turn": t.get("index"),
                "role": t.get("role"),
                "text": t.get("text"),
                "at": iso_offset(t.get("at")),
            }
            for t in kept
        ],
        "links": {"task": links.get("task"), "transcript": links.get("transcript")},
    }


def map_survey_response(data: Mapping[str, Any], event_id: str) -> Body:
    return {
        "eventId": event_id,
        "event": EventType.SURVEY_RESPONSE_COMPLETED.value,
        "occurredAt": iso_offset(data.get("submittedAt")),
        "source": data.get("source"),
        "sourceId": data.get("sourceId"),
        "formId": data.get("formId"),
        "responseId": data.get("responseId"),
        "submittedAt": iso_offset(data.get("submittedAt")),
        "landedAt": iso_offset(data.get("landedAt")),
        "result": map_answers(data.get("answers")),
        "hidden": _dict(data.get("hidden")),
    }


def map_answers(answers: Any) -> Body:
    """``fields`` (ref -> value as sent, for direct mapping) and ``answers`` (for an Iterator)."""
    fields: Body = {}
    items: list[Body] = []
    for answer in map(_dict, _list(answers)):
        ref = answer.get("questionRef") or answer.get("questionId")
        _put_unique(fields, str(ref), answer.get("value"))
        items.append(
            {
                "questionId": answer.get("questionId"),
                "questionRef": answer.get("questionRef"),
                "type": answer.get("type"),
                "prompt": answer.get("prompt"),
                "value": _item_value(answer.get("value")),
                "label": choice_label(answer) if is_choice(answer) else None,
            }
        )
    return {"fields": fields, "answers": items}


def _item_value(value: Any) -> Any:
    """One type per question inside the Iterator array: a multiple choice is joined to text
    (``result.fields`` keeps the list)."""
    if isinstance(value, list):
        return LABEL_SEPARATOR.join(str(v) for v in value) or None
    return value


def is_choice(answer: Mapping[str, Any]) -> bool:
    return answer.get("type") in CHOICE_TYPES or "optionLabels" in answer or "options" in answer


def choice_label(answer: Mapping[str, Any]) -> str | None:
    """The chosen options' labels, comma-joined: ``optionLabels``, else looked up in ``options``."""
    labels = answer.get("optionLabels")
    if not isinstance(labels, list):
        by_key = {
            str(o.get("key")): o.get("label") for o in map(_dict, _list(answer.get("options")))
        }
        value = answer.get("value")
        chosen = value if isinstance(value, list) else [] if value is None else [value]
        labels = [by_key[str(v)] for v in chosen if str(v) in by_key]
    return LABEL_SEPARATOR.join(str(label) for label in labels) or None


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


def _put_unique(target: Body, key: str, value: Any) -> None:
    """A repeated ref gets ``_2``, ``_3`` instead of overwriting (stable for one form)."""
    unique, n = key, 1
    while unique in target:
        n += 1
        unique = f"{key}_{n}"
    target[unique] = value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
