"""Keeping secrets out of what is shown and logged: URL userinfo and the database password. Pure.

A URL's userinfo (``user:password@``) is split off before the URL is stored; the store keeps it
sealed and the URL in its display form, where the password reads ``***``. A userinfo without a
password (``token@`` or ``token:@``, as APIs with basic-auth tokens take it) is all secret, so it
reads ``***`` whole. The authority ends at the first ``/``, ``?`` or ``#`` and the userinfo at its
last ``@``: yarl's reading, so the userinfo split off here is the one aiohttp would have sent.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

MASK = "***"
REDACTED = "[redacted]"  # a header value or credential as shown and as attempts keep it
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``(display URL, userinfo)``; the userinfo is None when the URL carries none."""
    match = _USERINFO.match(url)
    if match is None:
        return url, None
    userinfo = match["userinfo"]
    return f"{match['scheme']}{mask_userinfo(userinfo)}@{url[match.end() :]}", userinfo


def mask_userinfo(userinfo: str) -> str:
    user, sep, password = userinfo.partition(":")
    return f"{user}:{MASK}" if sep and password else MASK


def join_userinfo(display_url: str, userinfo: str | None) -> str:
    """The URL to send to: the display URL with its sealed userinfo put back."""
    if userinfo is None:
        return display_url
    match = _USERINFO.match(display_url)
    rest = display_url[match.end() :] if match else display_url.split("://", 1)[-1]
    scheme = match["scheme"] if match else display_url.split("://", 1)[0] + "://"
    return f"{scheme}{userinfo}@{rest}"


def strip_userinfo(url: str) -> str:
    """The URL as an attempt records it: no userinfo at all."""
    match = _USERINFO.match(url)
    return url if match is None else f"{match['scheme']}{url[match.end() :]}"


def is_mask(userinfo: str) -> bool:
    """True for a userinfo that is the display mask itself (``user:***``, ``***``): a URL typed
    back as it was shown, whose sealed userinfo should stay."""
    return mask_userinfo(userinfo) == userinfo


_ANY_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s]*)@")


def mask_urls(text: str) -> str:
    """Every ``scheme://user:password@`` in free text with its password masked."""
    return _ANY_USERINFO.sub(lambda m: f"{m[1]}{mask_userinfo(m[2])}@", text)


class SecretMaskingFilter(logging.Filter):
    """Masks URL passwords and the given literal secrets in every record, message and traceback.

    ``install_log_masking`` applies it as each record is made, whatever logger or handler it goes
    to; the record is formatted once here so arguments (a URL passed as ``%s``) are masked too."""

    def __init__(self, secrets: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.secrets = frozenset(s for s in secrets if len(s) >= 4)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return mask_urls(text) if "://" in text else text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken format string: logging reports it when the handler formats
        cleaned = self.scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def database_password(url: str) -> str | None:
    match = _USERINFO.match(url)
    if match is None:
        return None
    _, sep, password = match["userinfo"].partition(":")
    return password if sep and password else None


_installed: list[SecretMaskingFilter] = []


def install_log_masking(*secrets: str | None) -> None:
    """Mask URL passwords and ``secrets`` (the database password) in every log record, through
    the record factory: it reaches uvicorn's and alembic's loggers too, whatever handlers they
    configure. Idempotent; later calls add secrets."""
    wanted = frozenset(v for s in secrets if s for v in (s, unquote(s)))
    if _installed:
        _installed[0].secrets = _installed[0].secrets | wanted
        mask = _installed[0]
    else:
        mask = SecretMaskingFilter(wanted)
        _installed.append(mask)
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            mask.filter(record)
            return record

        logging.setLogRecordFactory(factory)
