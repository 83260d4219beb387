"""The event-type catalog: each type's JSON Schema and example, and intake validation against it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from gateway.errors import ValidationError
from gateway.models import EventType


@dataclass(frozen=True)
class EventTypeSpec:
    name: str
    description: str
    schema: dict[str, Any]
    example: dict[str, Any]


def _load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def catalog() -> dict[str, EventTypeSpec]:
    specs = {}
    for event_type in EventType:
        schema = _load(f"{event_type.value}.schema.json")
        specs[event_type.value] = EventTypeSpec(
            name=event_type.value,
            description=str(schema.get("description", "")),
            schema=schema,
            example=_load(f"{event_type.value}.example.json"),
        )
    return specs


@cache
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(catalog()[event_type].schema, format_checker=FormatChecker())


def validate_event_data(event_type: str, data: Any) -> None:
    """Raise ``ValidationError`` naming every failing path of ``data`` (or an unknown type)."""
    if event_type not in catalog():
        raise ValidationError(
            f"unknown event type {event_type!r}",
            details=[{"path": "type", "message": f"one of {sorted(catalog())}"}],
        )
    errors = sorted(_validator(event_type).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise ValidationError(
            f"data does not match the {event_type} schema",
            details=[{"path": _error_path(err), "message": err.message} for err in errors[:20]],
        )


def _error_path(err: Any) -> str:
    """``data.results.answers[0].value``; a missing required field is named in the path."""
    parts = list(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [name for name in err.validator_value if name not in err.instance]
        if missing:
            parts.append(missing[0])
    return "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
