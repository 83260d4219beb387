"""The ``Retry-After`` reading (``gateway/retry.py``), shared by deliveries and the person.run
client; RFC 9110 §10.2.3, read leniently."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.retry import MAX_RETRY_AFTER_SECONDS, parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("2", 2.0),  # delta-seconds
        (" 7 ", 7.0),  # padded
        ("1.5", 1.5),  # fractional (not in the RFC, but servers send it)
        ("0", 0.0),  # now
        ("-4", 0.0),  # negative: no wait
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),  # HTTP date
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # a date in the past: now
        ("Thu, 01 Jan 2026 12:00:30", 30.0),  # a date without a zone is read as UTC
        ("soon", None),  # garbage is ignored
        ("nan", None),  # floats that are no delay
        ("inf", None),
        ("999999999", MAX_RETRY_AFTER_SECONDS),  # clamped to a day
        ("Sat, 01 Jan 2028 12:00:00 GMT", MAX_RETRY_AFTER_SECONDS),  # a far date, clamped too
        ("", None),  # empty
        ("   ", None),  # blank
        (None, None),  # absent
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds
