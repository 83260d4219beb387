"""Reading untrusted JSON: the rules every JSON body the gateway accepts must meet (CONTRACT §3).

Pure: bytes in, a value or a list of problems out. What is refused, and why:

- not JSON at all (including invalid UTF-8 and lone surrogates: they cannot be stored or sent);
- nesting deeper than ``MAX_DEPTH`` levels (the store's serializer and every consumer's parser
  have limits of their own; 10,000 levels used to answer 500);
- integers outside signed 64 bits (PostgreSQL ``jsonb``, JavaScript consumers and orjson all lose
  or refuse them);
- ``NaN``, ``Infinity`` and numbers that overflow a double (Python's ``json`` accepts them, JSON
  does not; they were stored silently as ``null``);
- the NUL character in any string (PostgreSQL text and ``jsonb`` cannot hold it).

The problems come back as ``{"path", "message"}`` items (dotted paths, list indexes as numbers,
``""`` for the document itself), the shape of every 422's ``details``.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # levels of objects/arrays, the document itself being level 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_PROBLEMS = 20  # details listed per answer (the rest is the same story)


class Unusable:
    """Stands in, while parsing, for a value JSON allows or Python's parser accepts but the gateway
    refuses; ``check`` reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class NotJson(ValueError):
    """The bytes are not a JSON document at all."""


def _parse_int(text: str) -> int | Unusable:
    if len(text) > 20:  # longer than any 64-bit integer: do not even convert it
        return Unusable("integer outside signed 64 bits")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        return Unusable("integer outside signed 64 bits")
    return value


def _parse_float(text: str) -> float | Unusable:
    value = float(text)
    if not math.isfinite(value):
        return Unusable("number too large for a double")
    return value


def _parse_constant(name: str) -> Unusable:
    return Unusable(f"{name} is not a JSON number")


def load(raw: bytes) -> Any:
    """Parse ``raw``; values the gateway refuses come back as ``Unusable`` for ``check`` to name.

    Raises ``NotJson`` for bytes that are not JSON, and for nesting too deep for the parser itself
    (about 1,000 levels; ``check`` names the path of anything from ``MAX_DEPTH`` up to that)."""
    try:
        return json.loads(
            raw,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        raise NotJson(f"nesting deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise NotJson(str(exc)) from None


def _string_problem(value: str) -> str | None:
    if value.isascii():
        return "the NUL character is not allowed" if "\x00" in value else None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "lone surrogate: not valid Unicode"
    return "the NUL character is not allowed" if "\x00" in value else None


def check(value: Any, path: str = "", depth: int = 1) -> list[dict[str, str]]:
    """Every refused spot in a parsed document (at most ``MAX_PROBLEMS``), with its path.

    ``depth`` is the level ``value`` sits at (1 for a document's root). Iterative, so a document
    as deep as the parser allows cannot exhaust the stack here."""
    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, where, level = stack.pop()
        if isinstance(item, dict | list):
            if level > MAX_DEPTH:
                problems.append({"path": where, "message": f"nesting deeper than {MAX_DEPTH}"})
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and (reason := _string_problem(key)):
                    problems.append({"path": child_path, "message": f"key: {reason}"})
                stack.append((child, child_path, level + 1))
        elif isinstance(item, Unusable):
            problems.append({"path": where, "message": item.reason})
        elif isinstance(item, str) and (reason := _string_problem(item)):
            problems.append({"path": where, "message": reason})
    problems.sort(key=lambda p: p["path"])
    return problems
