"""Which destinations an event goes to (``gateway/fanout.py``): event-type patterns and filters."""

from __future__ import annotations

import pytest

from gateway.fanout import filter_matches, subscribes

DATA = {
    "studyId": "s1",
    "persona": {"segment": "renters", "age": 0},
    "tags": ["a", "b"],
    "score": 3,
}


@pytest.mark.parametrize(
    "flt,matches",
    [
        (None, True),  # no filter
        ({}, True),  # an empty filter is no filter
        ({"studyId": "s1"}, True),  # equality
        ({"studyId": "s2"}, False),
        ({"studyId": ["s2", "s1"]}, True),  # a list: any of
        ({"studyId": []}, False),  # an empty list: none of
        ({"persona.segment": "renters"}, True),  # dotted path
        ({"persona.missing": "x"}, False),  # missing field never matches
        ({"persona.segment.deeper": "x"}, False),  # a path through a scalar is missing
        ({"persona.age": 0}, True),  # a falsy value still matches itself
        ({"persona.age": None}, False),  # None is not "missing": 0 != None
        ({"tags": "b"}, True),  # a list field contains the value
        ({"tags": "c"}, False),
        ({"tags": ["c", "a"]}, True),  # a list field and a list filter: any in common
        ({"score": "3"}, False),  # no type coercion: 3 != "3"
        ({"studyId": "s1", "persona.segment": "owners"}, False),  # all keys must match
    ],
)
def test_filter_matches(flt: dict[str, object] | None, matches: bool) -> None:
    assert filter_matches(flt, DATA) is matches


@pytest.mark.parametrize(
    "patterns,event_type,expected",
    [
        (["task.completed"], "task.completed", True),
        (["*"], "survey.response.completed", True),
        (["task.*"], "task.completed", True),
        (["task.*"], "survey.response.completed", False),
        (["task.*"], "taskforce.completed", False),  # the family ends at the dot
        (["gateway.*"], "gateway.destination.disabled", True),  # deeper names of a family
        ([], "task.completed", False),  # no patterns: nothing
        (["survey.response.completed", "task.completed"], "task.completed", True),  # any of
        (["task.complete"], "task.completed", False),  # no prefix matching without ".*"
    ],
)
def test_subscribes(patterns: list[str], event_type: str, expected: bool) -> None:
    assert subscribes(patterns, event_type) is expected
