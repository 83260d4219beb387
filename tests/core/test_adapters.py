"""The connector-facing values (``gateway/adapters.py``): the standard reading of a response
(CONTRACT §4: 2xx success, 410 disables, the rest retries) and the header lookup."""

from __future__ import annotations

import pytest

from gateway.adapters import ResponseInfo, Verdict, classify_standard, header_value
from gateway.models import ErrorClass


@pytest.mark.parametrize(
    "status,verdict",
    [
        (200, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (299, Verdict.SUCCESS),  # any 2xx
        (301, Verdict.RETRY),  # redirects are not followed: a failure
        (400, Verdict.RETRY),
        (404, Verdict.RETRY),  # only 410 is permanent
        (410, Verdict.DISABLE),  # gone: the destination is disabled
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
    ],
)
def test_classify_standard(status: int, verdict: Verdict) -> None:
    outcome = classify_standard(ResponseInfo(status, {}, b""))
    assert outcome.verdict is verdict
    if verdict is Verdict.SUCCESS:
        assert outcome.error_class is None
    else:
        assert outcome.error_class is ErrorClass.HTTP_STATUS
        assert str(status) in outcome.reason


@pytest.mark.parametrize(
    "headers,value",
    [
        ({"Retry-After": "5"}, "5"),  # any case
        ({"retry-after": "5"}, "5"),
        ({"RETRY-AFTER": "5"}, "5"),
        ({"content-type": "text/plain"}, None),  # absent
        ({}, None),
    ],
)
def test_header_value_is_case_insensitive(headers: dict[str, str], value: str | None) -> None:
    assert header_value(headers, "retry-after") == value
