"""gateway.payload: the JSON rules every body meets, as a table of documents and verdicts."""

from __future__ import annotations

import pytest

from gateway import payload


def deep(levels: int, leaf: str = "1") -> bytes:
    return ("[" * levels + leaf + "]" * levels).encode()


# Each row: the body, and the path named by the first problem (None: accepted as is).
CASES = [
    (b'{"a": 1}', None),  # plain
    (deep(payload.MAX_DEPTH), None),  # the limit itself
    (deep(payload.MAX_DEPTH + 1), "0" + ".0" * (payload.MAX_DEPTH - 1)),  # one level over
    (b'{"a": {"b": [9223372036854775807, -9223372036854775808]}}', None),  # int64 bounds
    (b'{"a": {"b": [1, 9223372036854775808]}}', "a.b.1"),  # one past int64
    (b'{"a": -9223372036854775809}', "a"),  # one below int64
    (b'{"n": 1' + b"0" * 5000 + b"}", "n"),  # a 5,000-digit integer (never converted)
    (b'{"x": NaN}', "x"),  # Python's json accepts it, JSON does not
    (b'{"x": [Infinity]}', "x.0"),
    (b'{"x": -Infinity}', "x"),
    (b'{"x": 1e400}', "x"),  # overflows a double to inf
    (b'{"x": 1.5e300}', None),  # large but finite
    (b'{"s": "\\ud800"}', "s"),  # lone surrogate: cannot be stored or sent as UTF-8
    (b'{"\\udfff": 1}', "\udfff"),  # ... in a key
    (b'{"s": "a\\u0000b"}', "s"),  # NUL: PostgreSQL text cannot hold it
    ('{"s": "Grüße 😀"}'.encode(), None),  # ordinary Unicode
]


@pytest.mark.parametrize(("raw", "path"), CASES)
def test_rules(raw: bytes, path: str | None) -> None:
    problems = payload.check(payload.load(raw))
    if path is None:
        assert problems == []
    else:
        assert problems and problems[0]["path"] == path, problems


# Bytes that are not a JSON document at all (NotJson, a ValueError).
NOT_JSON = [
    b"{",  # truncated
    b'{"a": "\xff\xfe"}',  # invalid UTF-8
    deep(10_000),  # deeper than the parser itself goes: refused, never a RecursionError
    b"",  # nothing
]


@pytest.mark.parametrize("raw", NOT_JSON)
def test_not_json(raw: bytes) -> None:
    with pytest.raises(payload.NotJson):
        payload.load(raw)


def test_problems_are_capped_and_sorted() -> None:
    raw = b"[" + b",".join([b"NaN"] * 100) + b"]"
    problems = payload.check(payload.load(raw))
    assert len(problems) == payload.MAX_PROBLEMS
    assert [p["path"] for p in problems] == sorted(p["path"] for p in problems)


def test_depth_counts_from_the_given_level() -> None:
    # A batch item is checked as if it were posted alone: its own root is level 1.
    item = payload.load(deep(payload.MAX_DEPTH))
    assert payload.check(item, "events.0", depth=1) == []
    assert payload.check(item, "events.0", depth=2)[0]["path"].startswith("events.0")
