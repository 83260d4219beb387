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

from collections.abc import Mapping
from typing import Any

from connectors._shared import (
    Body,
    EventMapping,
    add_unique,
    as_dict,
    as_list,
    choice_label,
    is_choice,
    iso_offset,
    join_list,
    split_task,
    transcript_items,
)
from gateway.models import EventType

LABEL_SEPARATOR = ", "  # a multiple choice's labels (and values, in the Iterator) as one text


def map_task_completed(
    data: Mapping[str, Any], event_id: str, *, keep_turns: int | None = None
) -> Body:
    task = split_task(data, keep_turns)
    return {
        "eventId": event_id,
        "event": EventType.TASK_COMPLETED.value,
        "occurredAt": iso_offset(data.get("completedAt")),
        "taskId": data.get("taskId"),
        "runId": data.get("runId"),
        "status": data.get("status"),
        "study": {"id": data.get("studyId"), "name": data.get("studyName")},
        "persona": {
            key: task.persona.get(key)
            for key in ("id", "name", "age", "location", "occupation", "segment")
        },
        "skill": {"id": task.skill.get("id"), "name": task.skill.get("name")},
        "createdAt": iso_offset(data.get("createdAt")),
        "startedAt": iso_offset(data.get("startedAt")),
        "completedAt": iso_offset(data.get("completedAt")),
        "synthetic": as_dict(data.get("provenance")).get("synthetic"),
        "result": {
            "summary": task.results.get("summary"),
            **map_answers(task.results.get("answers")),
        },
        "scores": {
            "overall": task.scores.get("overall"),
            "criteria": [
                {"key": c.get("key"), "name": c.get("name"), "score": c.get("score")}
                for c in map(as_dict, as_list(task.scores.get("criteria")))
            ],
        },
        "transcriptTurnCount": len(task.turns),
        "transcriptTruncated": task.truncated,
        "transcript": transcript_items(task.kept),
        "links": {"task": task.links.get("task"), "transcript": task.links.get("transcript")},
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
        "hidden": as_dict(data.get("hidden")),
    }


MAPPING = EventMapping("make", map_task_completed, map_survey_response)


def map_answers(answers: Any) -> Body:
    """``fields`` (ref -> value as sent, for direct mapping) and ``answers`` (for an Iterator)."""
    fields: Body = {}
    items: list[Body] = []
    for answer in map(as_dict, as_list(answers)):
        ref = answer.get("questionRef") or answer.get("questionId")
        add_unique(fields, [(str(ref), answer.get("value"))])
        items.append(
            {
                "questionId": answer.get("questionId"),
                "questionRef": answer.get("questionRef"),
                "type": answer.get("type"),
                "prompt": answer.get("prompt"),
                # One type per question inside the Iterator array: a multiple choice is joined
                # to text (``result.fields`` keeps the list).
                "value": join_list(answer.get("value"), LABEL_SEPARATOR),
                "label": choice_label(answer, LABEL_SEPARATOR) if is_choice(answer) else None,
            }
        )
    return {"fields": fields, "answers": items}
