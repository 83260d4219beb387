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
from collections.abc import Iterable, Mapping
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

LIST_SEPARATOR = ", "  # a list mapped into a Zapier text field is comma-joined anyway (§6.1)


def map_task_completed(
    data: Mapping[str, Any], event_id: str, *, keep_turns: int | None = None
) -> Body:
    task = split_task(data, keep_turns)
    body: Body = {
        "id": event_id,
        "event": EventType.TASK_COMPLETED.value,
        "occurred_at": iso_offset(data.get("completedAt")),
        "task_id": data.get("taskId"),
        "task_url": task.links.get("task"),
        "study_id": data.get("studyId"),
        "study_name": data.get("studyName"),
        "run_id": data.get("runId"),
        "status": data.get("status"),
        "persona_id": task.persona.get("id"),
        "persona_name": task.persona.get("name"),
        "persona_age": task.persona.get("age"),
        "persona_location": task.persona.get("location"),
        "persona_occupation": task.persona.get("occupation"),
        "persona_segment": task.persona.get("segment"),
        "skill_id": task.skill.get("id"),
        "skill_name": task.skill.get("name"),
        "created_at": iso_offset(data.get("createdAt")),
        "started_at": iso_offset(data.get("startedAt")),
        "completed_at": iso_offset(data.get("completedAt")),
        "synthetic": as_dict(data.get("provenance")).get("synthetic"),
        "summary": task.results.get("summary"),
    }
    add_unique(body, flatten_answers(as_list(task.results.get("answers"))))
    add_unique(body, [("score_overall", task.scores.get("overall"))])
    add_unique(body, flatten_scores(as_list(task.scores.get("criteria"))))
    body["transcript_turn_count"] = len(task.turns)
    body["transcript_truncated"] = task.truncated
    body["transcript_url"] = task.links.get("transcript")
    body["transcript_text"] = (
        "\n".join(f"[{t.get('index')}] {t.get('role')}: {t.get('text')}" for t in task.kept) or None
    )
    body["transcript"] = transcript_items(task.kept)
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
    add_unique(body, flatten_answers(as_list(data.get("answers"))))
    hidden = as_dict(data.get("hidden"))
    add_unique(body, [(f"hidden_{snake_key(k)}", _scalar(v)) for k, v in hidden.items()])
    return body


MAPPING = EventMapping("zapier", map_task_completed, map_survey_response)


def flatten_answers(answers: Iterable[Any]) -> list[tuple[str, Any]]:
    """``result_<ref>`` = the value (lists joined), plus ``result_<ref>_label`` for choices."""
    pairs: list[tuple[str, Any]] = []
    for raw in answers:
        answer = as_dict(raw)
        key = "result_" + snake_key(str(answer.get("questionRef") or answer.get("questionId")))
        pairs.append((key, _scalar(answer.get("value"))))
        if is_choice(answer):
            pairs.append((key + "_label", choice_label(answer, LIST_SEPARATOR)))
    return pairs


def flatten_scores(criteria: Iterable[Any]) -> list[tuple[str, Any]]:
    return [
        ("score_" + snake_key(str(as_dict(c).get("key"))), as_dict(c).get("score"))
        for c in criteria
    ]


def snake_key(text: str) -> str:
    """``purchaseIntent`` / ``Purchase intent`` / ``purchase-intent`` -> ``purchase_intent``."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", split).strip("_").lower() or "field"


def _scalar(value: Any) -> Any:
    """A Zapier field value: a list comma-joined, an object as compact JSON text."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return join_list(value, LIST_SEPARATOR)
