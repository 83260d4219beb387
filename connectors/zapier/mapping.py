"""Pure mapping: an event's ``data`` -> the flat object a Zapier REST hook or Catch Hook receives.

Zapier prefers one flat snake_case object per request (reference §1.3, §6.1): scalars first,
answers flattened as ``result_<questionRef>`` (plus ``result_<questionRef>_label`` for choices),
per-criterion scores as ``score_<key>``, the transcript both as line items (``transcript[]text``)
and as text, dates in ISO 8601 with an offset, booleans as booleans. Every key of a type is present
on every event (``null`` when empty), because a field mapped in a Zap that is missing at run time
breaks the Zap. ``result_*``/``score_*``/``hidden_*`` keys follow the study's questions and the
skill's criteria, so they are stable across events of one study or form.

When the encoded body is over the cap, the transcript is cut (a prefix of whole turns is kept),
``transcript_truncated`` is true and ``transcript_url`` still points at the full transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
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
LIST_SEPARATOR = ", "  # a list mapped into a Zapier text field is comma-joined anyway (§6.1)

Body = dict[str, Any]


def map_event(event_type: str, data: Mapping[str, Any], event_id: str) -> Body:
    """The full (untrimmed) Zapier object for one event; ``ValueError`` for an unknown type."""
    if event_type == EventType.TASK_COMPLETED:
        return map_task_completed(data, event_id)
    if event_type == EventType.SURVEY_RESPONSE_COMPLETED:
        return map_survey_response(data, event_id)
    raise ValueError(f"zapier: no mapping for event type {event_type!r}")


def render_body(
    event_type: str, data: Mapping[str, Any], event_id: str, max_bytes: int | None
) -> tuple[Body, bytes]:
    """The object and its exact bytes, the transcript cut when the bytes exceed ``max_bytes``."""
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
    body: Body = {
        "id": event_id,
        "event": EventType.TASK_COMPLETED.value,
        "occurred_at": iso_offset(data.get("completedAt")),
        "task_id": data.get("taskId"),
        "task_url": links.get("task"),
        "study_id": data.get("studyId"),
        "study_name": data.get("studyName"),
        "run_id": data.get("runId"),
        "status": data.get("status"),
        "persona_id": persona.get("id"),
        "persona_name": persona.get("name"),
        "persona_age": persona.get("age"),
        "persona_location": persona.get("location"),
        "persona_occupation": persona.get("occupation"),
        "persona_segment": persona.get("segment"),
        "skill_id": skill.get("id"),
        "skill_name": skill.get("name"),
        "created_at": iso_offset(data.get("createdAt")),
        "started_at": iso_offset(data.get("startedAt")),
        "completed_at": iso_offset(data.get("completedAt")),
        "synthetic": _dict(data.get("provenance")).get("synthetic"),
        "summary": results.get("summary"),
    }
    _add_unique(body, flatten_answers(_list(results.get("answers"))))
    _add_unique(body, [("score_overall", scores.get("overall"))])
    _add_unique(body, flatten_scores(_list(scores.get("criteria"))))
    body["transcript_turn_count"] = len(turns)
    body["transcript_truncated"] = len(kept) < len(turns)
    body["transcript_url"] = links.get("transcript")
    body["transcript_text"] = (
        "\n".join(f"[{t.get('index')}] {t.get('role')}: {t.get('text')}" for t in kept) or None
    )
    body["transcript"] = [
        {
            "turn": t.get("index"),
            "role": t.get("role"),
            "text": t.get("text"),
            "at": iso_offset(t.get("at")),
        }
        for t in kept
    ]
    return body


def map_survey_response(data: Mapping[str, Any], event_id: str) -> Body:
    body: Body = {
        "id": event_id,
        "event": EventType.SURVEY_RESPONSE_COMPLETED.value,
        "occurred_at": iso_offset(data.get("submittedAt")),
        "source": data.get("source"),
        "source_id": data.get("sourceId"),
        "form_id": data.get("formId"),
        "response_id": data.get("responseId"),
        "submitted_at": iso_offset(data.get("submittedAt")),
        "landed_at": iso_offset(data.get("landedAt")),
    }
    _add_unique(body, flatten_answers(_list(data.get("answers"))))
    hidden = _dict(data.get("hidden"))
    _add_unique(body, [(f"hidden_{snake_key(k)}", _scalar(v)) for k, v in hidden.items()])
    return body


def flatten_answers(answers: Iterable[Any]) -> list[tuple[str, Any]]:
    """``result_<ref>`` = the value (lists joined), plus ``result_<ref>_label`` for choices."""
    pairs: list[tuple[str, Any]] = []
    for raw in answers:
        answer = _dict(raw)
        key = "result_" + snake_key(str(answer.get("questionRef") or answer.get("questionId")))
        pairs.append((key, _scalar(answer.get("value"))))
        if is_choice(answer):
            pairs.append((key + "_label", choice_label(answer)))
    return pairs


def flatten_scores(criteria: Iterable[Any]) -> list[tuple[str, Any]]:
    return [
        ("score_" + snake_key(str(_dict(c).get("key"))), _dict(c).get("score")) for c in criteria
    ]


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
    return LIST_SEPARATOR.join(str(label) for label in labels) or None


def snake_key(text: str) -> str:
    """``purchaseIntent`` / ``Purchase intent`` / ``purchase-intent`` -> ``purchase_intent``."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", split).strip("_").lower() or "field"


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


def _add_unique(body: Body, pairs: Iterable[tuple[str, Any]]) -> None:
    """Add dynamic keys without overwriting: a clash gets ``_2``, ``_3`` (stable for one form)."""
    for key, value in pairs:
        unique, n = key, 1
        while unique in body:
            n += 1
            unique = f"{key}_{n}"
        body[unique] = value


def _scalar(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value) or None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
