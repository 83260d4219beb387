"""The pure task -> ``task.completed`` mapping, checked against the catalog schema and example."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

import pytest

from gateway.catalog import validate_event_data
from gateway.errors import UpstreamError
from gateway.upstream.client import Task, TaskResults, TaskScores, Turn
from gateway.upstream.mapping import task_event_data, task_event_id

BASE_URL = "https://api.person.run"
INTENT = [
    {"key": "definitely", "label": "Definitely would buy"},
    {"key": "probably", "label": "Probably would buy"},
    {"key": "not_sure", "label": "Not sure"},
    {"key": "probably_not", "label": "Probably would not buy"},
    {"key": "definitely_not", "label": "Definitely would not buy"},
]
DRIVERS = [
    {"key": "taste", "label": "Taste"},
    {"key": "price", "label": "Price"},
    {"key": "sustainability", "label": "Sustainability"},
    {"key": "nutrition", "label": "Nutrition"},
    {"key": "packaging", "label": "Packaging"},
]

# person.run's answers for the task behind gateway/catalog/task.completed.example.json
TASK: dict[str, Any] = {
    "id": "task_7f3c2a91",
    "tenantId": "11111111-1111-1111-1111-111111111111",
    "studyId": "study_19b4e0",
    "studyName": "Q4 Smart Kettle Concept Test",
    "runId": "run_5d21aa",
    "skillId": "skill_concept_test",
    "personaId": "persona_0c11d2",
    "persona": {
        "id": "persona_0c11d2",
        "firstName": "Maya",
        "lastName": "Chen",
        "age": 29,
        "location": "Chicago, IL",
        "baseOccupation": "UX researcher",
        "segment": "Urban renters 25-34",
        "locale": "en-US",
    },
    "status": "completed",
    "createdAt": "2025-11-20T14:29:58Z",
    "startedAt": "2025-11-20T14:30:02.000Z",
    "completedAt": "2025-11-20T14:32:10Z",
    "updatedAt": "2025-11-20T14:32:10Z",
    "futureField": {"ignored": True},
}
RESULTS: dict[str, Any] = {
    "taskId": "task_7f3c2a91",
    "skill": {"id": "skill_concept_test", "name": "Concept Test", "version": 1},
    "summary": "Likes the concept and would probably buy it under $60; "
    "wants a smaller, quieter base.",
    "questions": [
        {
            "id": "q_nps",
            "key": "nps",
            "type": "nps",
            "scale": {"min": 0, "max": 10},
            "prompt": "How likely are you to recommend this product to a friend or colleague?",
        },
        {
            "id": "q_intent",
            "key": "purchase_intent",
            "type": "single_choice",
            "options": INTENT,
            "prompt": "How likely would you be to buy this product?",
        },
        {
            "id": "q_drivers",
            "key": "appeal_drivers",
            "type": "multi_choice",
            "options": DRIVERS,
            "prompt": "What appeals to you about this concept? (Select all that apply)",
        },
        {
            "id": "q_feedback",
            "key": "open_feedback",
            "type": "free_text",
            "prompt": "What would you change about this product?",
        },
        {
            "id": "q_rating",
            "key": "overall_rating",
            "type": "rating",
            "scale": {"min": 1, "max": 5},
            "prompt": "Overall, how would you rate this concept?",
        },
    ],
    "answers": [
        {"questionId": "q_nps", "value": 8},
        {"questionId": "q_intent", "value": "probably"},
        {"questionId": "q_drivers", "value": ["taste", "sustainability"]},
        {
            "questionId": "q_feedback",
            "value": "A smaller base and a quieter boil; otherwise it fits my morning routine.",
        },
        {"questionId": "q_rating", "value": 4},
    ],
}
TURNS: list[dict[str, Any]] = [
    {
        "index": 1,
        "role": "interviewer",
        "createdAt": "2025-11-20T14:30:05Z",
        "content": "Here is the Smart Kettle concept. What is your first reaction?",
    },
    {
        "index": 2,
        "role": "persona",
        "createdAt": "2025-11-20T14:30:41Z",
        "content": "It looks sleek. I like setting the temperature for tea from my phone.",
    },
    {
        "index": 3,
        "role": "interviewer",
        "createdAt": "2025-11-20T14:31:20Z",
        "content": "Would you buy it?",
    },
    {
        "index": 4,
        "role": "persona",
        "createdAt": "2025-11-20T14:31:58Z",
        "content": "Probably, if it were under $60.",
    },
]
SCORES: dict[str, Any] = {
    "taskId": "task_7f3c2a91",
    "overall": 0.82,
    "criteria": [
        {"key": "coherence", "name": "Coherence", "score": 0.9, "rationale": "…"},
        {"key": "persona_fidelity", "name": "Persona fidelity", "score": 0.74},
    ],
}


def build(
    task: dict[str, Any] | None = None,
    results: dict[str, Any] | None = None,
    turns: list[dict[str, Any]] | None = None,
    scores: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data = task_event_data(
        Task.model_validate(TASK if task is None else task),
        TaskResults.model_validate(RESULTS if results is None else results),
        [Turn.model_validate(t) for t in (TURNS if turns is None else turns)],
        TaskScores.model_validate(SCORES if scores is None else scores),
        base_url=BASE_URL,
    )
    validate_event_data("task.completed", data)
    for stamp in (data["createdAt"], data["startedAt"], data["completedAt"]):
        assert stamp is None or datetime.fromisoformat(stamp).tzinfo is not None
    return data


def test_maps_to_the_catalog_example() -> None:
    example = json.loads(
        resources.files("gateway.catalog").joinpath("task.completed.example.json").read_text()
    )
    data = build()
    assert {k: v for k, v in data.items() if k != "links"} == {
        k: v for k, v in example.items() if k != "links"
    }
    assert example["links"].items() <= data["links"].items()
    assert data["links"]["scores"] == f"{BASE_URL}/tasks/task_7f3c2a91/scores"


def test_missing_and_unknown_pieces_still_validate() -> None:
    task = {k: v for k, v in TASK.items() if k not in ("persona", "completedAt", "skillId")}
    task["createdAt"] = "2025-11-20T14:29:58.250"  # naive: read as UTC
    results = {
        "answers": [
            {"questionId": "q_orphan", "value": 3.5},  # no question for it
            {"questionId": "q_matrix", "value": {"row": "col"}},  # a type the catalog lacks
            {"questionId": "q_flag", "value": True, "questionKey": "flag"},
            {"questionId": "q_picks", "value": ["a", "z"]},
        ],
        "questions": [
            {"id": "q_matrix", "type": "matrix"},
            {"id": "q_picks", "type": "multi_choice", "options": [{"key": "a", "label": "A"}]},
        ],
    }
    data = build(task=task, results=results, turns=[], scores={"criteria": []})
    assert data["persona"] == {"id": "persona_0c11d2", "name": "persona_0c11d2"}
    assert data["skill"] is None and data["results"]["summary"] is None
    assert data["completedAt"] == "2025-11-20T14:32:10Z"  # from updatedAt
    assert data["createdAt"] == "2025-11-20T14:29:58.250Z"
    kinds = [(a["questionId"], a["type"], a["questionRef"]) for a in data["results"]["answers"]]
    assert kinds == [
        ("q_orphan", "number", None),
        ("q_matrix", "free_text", None),
        ("q_flag", "boolean", "flag"),
        ("q_picks", "multi_choice", None),
    ]
    picks = data["results"]["answers"][3]
    assert picks["optionKeys"] == ["a", "z"] and picks["optionLabels"] == ["A", "z"]
    assert data["turns"] == [] and data["scores"] == {"overall": None, "criteria": []}


def test_turns_are_renumbered_in_transcript_order() -> None:
    turns: list[dict[str, Any]] = [
        {"index": 2, "role": "persona", "content": "second"},
        {
            "index": 0,
            "role": "interviewer",
            "content": "zeroth",
            "createdAt": "2025-11-20T14:30:05+01:00",
        },
        {"role": "interviewer", "content": "unnumbered"},
    ]
    data = build(turns=turns)
    assert [(t["index"], t["text"]) for t in data["turns"]] == [
        (1, "zeroth"),
        (2, "second"),
        (3, "unnumbered"),
    ]
    assert data["turns"][0]["at"] == "2025-11-20T13:30:05Z"


def test_an_unfinished_task_is_refused() -> None:
    with pytest.raises(UpstreamError, match="running"):
        build(task={**TASK, "status": "running"})


def test_event_ids_are_derived_from_tenant_and_task() -> None:
    first = task_event_id("tenant-a", "task-1")
    assert first == task_event_id("tenant-a", "task-1")
    assert first.startswith("evt_") and len(first) == 30
    assert first != task_event_id("tenant-b", "task-1")
    assert first != task_event_id("tenant-a", "task-2")
