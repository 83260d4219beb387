"""URL userinfo split, restored and masked; log records scrubbed (gateway/redaction.py)."""

from __future__ import annotations

import logging

import pytest
import yarl

from gateway.redaction import (
    SecretMaskingFilter,
    is_mask,
    join_userinfo,
    mask_urls,
    split_userinfo,
    strip_userinfo,
)


@pytest.mark.parametrize(
    ("url", "display", "userinfo"),
    [
        ("https://u:pw@h.example/x", "https://u:***@h.example/x", "u:pw"),  # user and password
        ("https://tok@h.example/", "https://***@h.example/", "tok"),  # a bare token is all secret
        ("https://tok:@h.example/", "https://***@h.example/", "tok:"),  # Stripe-style token:
        ("https://a@b:c@h.example/", "https://a@b:***@h.example/", "a@b:c"),  # last @ ends it
        ("https://h.example/p@th?q=a@b", "https://h.example/p@th?q=a@b", None),  # @ after host
        ("https://h.example/", "https://h.example/", None),
    ],
)
def test_split_and_join_round_trip(url: str, display: str, userinfo: str | None) -> None:
    assert split_userinfo(url) == (display, userinfo)
    assert join_userinfo(display, userinfo) == url
    stripped = strip_userinfo(url)
    assert yarl.URL(stripped).user is None and yarl.URL(stripped).host == yarl.URL(url).host
    if userinfo is not None:  # the split agrees with yarl's reading of the userinfo
        parsed = yarl.URL(url)
        assert f"{parsed.raw_user or ''}" in userinfo.replace("@", "%40")


def test_masks_are_recognised() -> None:
    assert is_mask("u:***") and is_mask("***")
    assert not is_mask("u:pw") and not is_mask("tok")


def test_mask_urls_in_text() -> None:
    text = "cannot reach postgresql+psycopg://gw:s3cr3t@db:5432/gw nor https://tok@x/"
    assert (
        mask_urls(text) == "cannot reach postgresql+psycopg://gw:***@db:5432/gw nor https://***@x/"
    )


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)


def test_filter_masks_arguments_and_literal_secrets() -> None:
    mask = SecretMaskingFilter(frozenset({"dbpw-123456"}))
    record = _record("db %s, again %s", "postgresql://u:dbpw-123456@h/d", "dbpw-123456")
    assert mask.filter(record)
    assert record.getMessage() == "db postgresql://u:***@h/d, again ***"


def test_filter_leaves_a_broken_format_string_to_logging() -> None:
    record = _record("two %s %s", "only one")
    assert SecretMaskingFilter().filter(record)  # no exception from the log call itself
