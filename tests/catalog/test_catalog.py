"""The compiled validator on intake's hot path agrees with the ``jsonschema`` reference.

Valid data comes from each catalog schema (``schema_values`` below covers the keywords the catalog
uses; hypothesis-jsonschema no longer runs on current hypothesis); invalid data from mutating it
(a required key dropped, a value of the wrong type, a malformed date-time) and from arbitrary JSON.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.catalog import _validator, catalog, fast_is_valid, validate_event_data
from gateway.errors import ValidationError

TYPES = sorted(catalog())
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
DATES = st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
PRIMITIVES = {
    "string": st.text(max_size=8),
    "integer": st.integers(-(2**63), 2**63 - 1),
    "number": st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "null": st.none(),
}


def schema_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under ``schema``, for the keywords the catalog's schemas use."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type")
    if types is None:
        return JSON
    options = []
    for kind in [types] if isinstance(types, str) else types:
        if kind == "object":
            options.append(_objects(schema))
        elif kind == "array":
            options.append(st.lists(schema_values(schema.get("items", {})), max_size=3))
        elif kind == "string" and schema.get("format") == "date-time":
            options.append(DATES)
        elif kind == "string" and "pattern" in schema:
            options.append(st.from_regex(schema["pattern"]))
        elif kind == "string":
            options.append(st.text(min_size=schema.get("minLength", 0), max_size=8))
        elif kind == "integer" and "minimum" in schema:
            options.append(st.integers(schema["minimum"], 2**63 - 1))
        else:
            options.append(PRIMITIVES[kind])
    return st.one_of(options)


def _objects(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    fixed = st.fixed_dictionaries(
        {k: schema_values(v) for k, v in props.items() if k in required},
        optional={k: schema_values(v) for k, v in props.items() if k not in required},
    )
    if isinstance(extra, dict):
        more = st.dictionaries(st.text(min_size=1, max_size=6), schema_values(extra), max_size=2)
        return st.tuples(more, fixed).map(lambda pair: {**pair[0], **pair[1]})
    return fixed


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def agree(event_type: str, data: Any) -> bool:
    reference = _validator(event_type).is_valid(data)
    assert fast_is_valid(event_type, data) == reference, data
    return reference


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


def _mutate(data: dict[str, Any], choice: int, kind: int) -> dict[str, Any]:
    out = copy.deepcopy(data)
    paths = [p for p in _paths(out) if p]
    if not paths:
        return out
    path = paths[choice % len(paths)]
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == 0 and isinstance(parent, dict):
        del parent[last]
    elif kind == 1:
        parent[last] = [] if isinstance(parent[last], str) else "x"
    else:
        parent[last] = "2026-13-45T99:00:00Z" if isinstance(parent[last], str) else None
    return out


@pytest.mark.parametrize("event_type", TYPES)
def test_the_catalog_examples_are_valid(event_type: str) -> None:
    assert agree(event_type, catalog()[event_type].example)


@pytest.mark.parametrize("event_type", TYPES)
def test_agree_on_generated_valid_data(event_type: str) -> None:
    @SETTINGS
    @given(schema_values(catalog()[event_type].schema))
    def check(data: Any) -> None:
        assert agree(event_type, data)

    check()


@pytest.mark.parametrize("event_type", TYPES)
def test_agree_on_mutated_examples(event_type: str) -> None:
    @SETTINGS
    @given(st.integers(0, 10_000), st.integers(0, 2))
    def check(choice: int, kind: int) -> None:
        agree(event_type, _mutate(catalog()[event_type].example, choice, kind))

    check()


@pytest.mark.parametrize("event_type", TYPES)
def test_agree_on_arbitrary_json(event_type: str) -> None:
    @SETTINGS
    @given(JSON)
    def check(data: Any) -> None:
        agree(event_type, data)

    check()


def test_invalid_data_still_gets_the_reference_details() -> None:
    data = copy.deepcopy(catalog()["task.completed"].example)
    del data["taskId"]
    with pytest.raises(ValidationError) as err:
        validate_event_data("task.completed", data)
    assert any("taskId" in d["path"] for d in err.value.details)


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00.123456789+05:30",
        "2026-12-01t10:00:00z",
        "2026-12-31T23:59:60Z",
        "2026-12-01 10:00:00Z",
        "2026-12-01T10:00:00",
        "2026-02-30T10:00:00Z",
        "2026-12-01T24:00:00Z",
        "2026-12-01",
        "",
        "٢٠٢٦-12-01T10:00:00Z",
    ],
)
def test_agree_on_date_time_edge_cases(value: str) -> None:
    data = copy.deepcopy(catalog()["task.completed"].example)
    data["completedAt"] = value
    agree("task.completed", data)
