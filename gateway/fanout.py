"""Which destinations an event goes to: pure matching of event types and ``filter``.

A filter is an object of ``data`` fields that must match (CONTRACT §3). Keys may be dotted paths
(``"persona.segment"``); a list value matches any of its items; a scalar matches equality, and a
field that is itself a list (``optionKeys``) matches when it contains the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


def lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


def _value_matches(actual: Any, wanted: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(wanted, list):
        return any(_value_matches(actual, w) for w in wanted)
    if isinstance(actual, list):
        return wanted in actual
    return bool(actual == wanted)


def filter_matches(filter_: Mapping[str, Any] | None, data: Mapping[str, Any]) -> bool:
    if not filter_:
        return True
    return all(_value_matches(lookup(data, key), wanted) for key, wanted in filter_.items())


def subscribes(event_types: Sequence[str], event_type: str) -> bool:
    """``"*"`` subscribes to everything; ``"task.*"`` to a family."""
    for pattern in event_types:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
