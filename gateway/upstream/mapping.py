"""Pure: a completed person.run task (task, results, turns, scores) -> ``task.completed`` data.

The output follows ``gateway/catalog/task.completed.schema.json``. Answers are joined to the
skill's questions so every answer carries its prompt, choice keys *and* labels, and scale; turns
are renumbered 1..n in transcript order. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.errors import UpstreamError
from gateway.ids import EVENT, derived_id
from gateway.upstream.client import Answer, Question, Task, TaskResults, TaskScores, Turn

# The answer types the catalog schema knows (results.answers[].type).
ANSWER_TYPES = frozenset(
    {
        "nps",
        "single_choice",
        "multi_choice",
        "free_text",
        "rating",
        "number",
        "boolean",
        "date",
        "email",
        "url",
    }
)
CHOICE_TYPES = frozenset({"single_choice", "multi_choice"})
PROVENANCE = {"synthetic": True, "generator": "person.run", "source": "poller"}


def task_event_id(tenant_id: str, task_id: str) -> str:
    """The event id of a task: the same task always yields the same id (CONTRACT §5)."""
    return derived_id(EVENT, "person.run", tenant_id, task_id)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, keeping sub-second digits only when there are some."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    micro = aware.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return aware.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _infer_type(value: Any) -> str:
    """A schema type for an answer whose question type is missing or unknown."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "multi_choice" if isinstance(value, list) else "free_text"


def _answer(answer: Answer, question: Question | None) -> dict[str, Any]:
    declared = answer.type or (question.type if question else None)
    kind = declared if declared in ANSWER_TYPES else _infer_type(answer.value)
    out: dict[str, Any] = {
        "questionId": answer.question_id,
        "questionRef": answer.question_key or (question.key if question else None),
        "type": kind,
        "prompt": question.prompt if question else None,
        "value": answer.value,
    }
    if question is not None and question.options:
        labels = {option.key: option.label for option in question.options}
        if kind in CHOICE_TYPES:
            value = answer.value
            keys = (
                [str(v) for v in value]
                if isinstance(value, list)
                else []
                if value is None
                else [str(value)]
            )
            out["optionKeys"] = keys
            out["optionLabels"] = [labels.get(key, key) for key in keys]
        out["options"] = [{"key": o.key, "label": o.label} for o in question.options]
    if question is not None and question.scale is not None:
        out["scale"] = {"min": question.scale.min, "max": question.scale.max}
    return out


def _answers(results: TaskResults) -> list[dict[str, Any]]:
    by_id = {q.id: q for q in results.questions}
    by_key = {q.key: q for q in results.questions if q.key}
    return [
        _answer(a, by_id.get(a.question_id) or by_key.get(a.question_key or a.question_id))
        for a in results.answers
    ]


def _turns(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    ordered = sorted(enumerate(turns), key=lambda p: (p[1].index is None, p[1].index or 0, p[0]))
    return [
        {
            "index": n,
            "role": turn.role,
            "text": turn.content,
            "at": _optional_timestamp(turn.created_at),
        }
        for n, (_, turn) in enumerate(ordered, start=1)
    ]


def _persona(task: Task) -> dict[str, Any]:
    persona = task.persona
    if persona is None:
        fallback = task.persona_id or "unknown"
        return {"id": fallback, "name": fallback}
    return {
        "id": persona.id,
        "name": persona.display_name,
        "age": persona.age,
        "location": persona.location,
        "occupation": persona.occupation or persona.base_occupation,
        "segment": persona.segment,
    }


def _skill(task: Task, results: TaskResults) -> dict[str, str] | None:
    skill_id = results.skill.id if results.skill else task.skill_id
    if skill_id is None:
        return None
    name = (results.skill.name if results.skill else None) or task.skill_name
    return {"id": skill_id} if name is None else {"id": skill_id, "name": name}


def _scores(scores: TaskScores) -> dict[str, Any]:
    criteria = []
    for c in scores.criteria:
        item: dict[str, Any] = {"key": c.key, "score": c.score}
        if c.name is not None:
            item["name"] = c.name
        criteria.append(item)
    return {"overall": scores.overall, "criteria": criteria}


def task_event_data(
    task: Task, results: TaskResults, turns: Sequence[Turn], scores: TaskScores, *, base_url: str
) -> dict[str, Any]:
    """The ``task.completed`` data for a completed task; ``base_url`` roots the ``links``.

    Raises ``UpstreamError`` when the task is not completed (person.run listed it as such).
    """
    if task.status != "completed":
        raise UpstreamError(f"task {task.id} is {task.status!r}, not completed")
    task_url = f"{base_url.rstrip('/')}/tasks/{task.id}"
    return {
        "taskId": task.id,
        "studyId": task.study_id,
        "studyName": task.study_name,
        "runId": task.run_id,
        "status": "completed",
        "persona": _persona(task),
        "skill": _skill(task, results),
        "createdAt": _optional_timestamp(task.created_at),
        "startedAt": _optional_timestamp(task.started_at),
        "completedAt": format_timestamp(task.completed_at or task.updated_at),
        "results": {"summary": results.summary, "answers": _answers(results)},
        "turns": _turns(turns),
        "scores": _scores(scores),
        "links": {
            "task": task_url,
            "results": f"{task_url}/results",
            "transcript": f"{task_url}/turns",
            "scores": f"{task_url}/scores",
        },
        "provenance": dict(PROVENANCE),
    }
