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

from collections.abc import Mapping
from typing import Any

from connectors._shared import Body, EventMapping, as_dict, as_list, iso_offset
from gateway.models import EventType

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


def map_task_completed(
    data: Mapping[str, Any], event_id: str, *, keep_turns: int | None = None
) -> Body:
    turns = [_with_defaults(t, {"at": None}) for t in as_list(data.get("turns"))]
    kept = turns if keep_turns is None else turns[:keep_turns]
    results = as_dict(data.get("results"))
    scores = as_dict(data.get("scores"))
    normal = {
        **_with_defaults(data, TASK_DEFAULTS),
        "persona": _ordered(_with_defaults(data.get("persona"), PERSONA_DEFAULTS), PERSONA_ORDER),
        "results": _ordered(
            {**_with_defaults(results, {"summary": None}), "answers": _answers(results)},
            ("summary", "answers"),
        ),
        "turns": [{**t, "at": iso_offset(t["at"])} for t in kept],
        "scores": _ordered(
            {
                **scores,
                "overall": scores.get("overall"),
                "criteria": as_list(scores.get("criteria")),
            },
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


MAPPING = EventMapping("n8n", map_task_completed, map_survey_response)


def _with_defaults(value: Any, defaults: Mapping[str, Any]) -> Body:
    """``value``'s keys in order, then each missing default (a key set to ``None`` is kept)."""
    given = as_dict(value)
    return {**given, **{k: v for k, v in defaults.items() if k not in given}}


def _answers(parent: Mapping[str, Any]) -> list[Body]:
    return [
        _ordered(_with_defaults(a, ANSWER_DEFAULTS), ANSWER_ORDER)
        for a in as_list(parent.get("answers"))
    ]


def _ordered(value: Body, order: tuple[str, ...]) -> Body:
    """The keys named in ``order`` first, in that order, then the rest as they came."""
    return {**{k: value[k] for k in order if k in value}, **value}


def _with_iso_timestamps(data: Body) -> Body:
    return {k: iso_offset(v) if k in TIMESTAMP_FIELDS else v for k, v in data.items()}
