"""A consumer of Typeform webhooks: checks each POST the way a strict Typeform integration would.

For every request it records a ``TypeformVerdict``: whether ``Typeform-Signature`` verifies over
the raw body (``sha256=`` + base64 HMAC-SHA256, reference §2) and every problem with the shape:
each answer's ``field.id`` must exist in ``definition.fields`` with the same type and ref, and its
value key must be the one Typeform uses for that field type (reference §1 table). The checks are
written from the reference, independently of ``connectors.typeform``.

Answers: 401 on a bad or missing signature (when a secret is expected for the path), 400 on shape
problems, else 200; ``script(path, 503, 200)`` overrides the next statuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# field type -> answer types Typeform sends for it; choice fields depend on multiplicity
_ANSWER_TYPES: dict[str, frozenset[str]] = {
    "short_text": frozenset({"text"}),
    "long_text": frozenset({"text"}),
    "email": frozenset({"email"}),
    "phone_number": frozenset({"phone_number"}),
    "date": frozenset({"date"}),
    "number": frozenset({"number"}),
    "rating": frozenset({"number"}),
    "opinion_scale": frozenset({"number"}),
    "nps": frozenset({"number"}),
    "yes_no": frozenset({"boolean"}),
    "legal": frozenset({"boolean"}),
    "website": frozenset({"url"}),
    "calendly": frozenset({"url"}),
    "file_upload": frozenset({"file_url"}),
    "payment": frozenset({"payment"}),
    "dropdown": frozenset({"text", "choice"}),  # older payloads send text
    "ranking": frozenset({"choices"}),
}
_STRING_VALUES = frozenset({"text", "email", "phone_number", "url", "file_url"})


@dataclass
class TypeformVerdict:
    """What the consumer made of one request."""

    path: str
    status: int  # what it answered
    signature_ok: bool | None  # None when no secret is expected for the path
    problems: list[str]
    event_id: str | None
    form_id: str | None
    token: str | None
    duplicate: bool  # this event_id was seen before (a retry or replay)
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.signature_ok is not False and not self.problems


class TypeformReceiver:
    """``receiver.app`` is the ASGI app; POST to any path."""

    def __init__(self) -> None:
        self.verdicts: list[TypeformVerdict] = []
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self._scripts: dict[str, list[int]] = {}
        self._seen: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/_fake/verdicts", self._list, methods=["GET"]),
                Route("/{path:path}", self._handle, methods=["POST"]),
            ]
        )

    def expect_secret(self, path: str, secret: str) -> None:
        """Requests to ``path`` must carry a valid ``Typeform-Signature`` under ``secret``."""
        self._secrets[_norm(path)] = secret

    def script(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses (after checking them)."""
        self._scripts.setdefault(_norm(path), []).extend(statuses)

    def on(self, path: str) -> list[TypeformVerdict]:
        with self._lock:
            return [v for v in self.verdicts if v.path == _norm(path)]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[TypeformVerdict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.on(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.on(path))} of {count} requests in {timeout}s")

    async def _handle(self, request: Request) -> Response:
        path = _norm(request.url.path)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self._secrets.get(path)
        signature_ok = None
        if secret is not None:
            signature_ok = _signature_ok(body, headers.get("typeform-signature"), secret)
        payload, problems = _decode(body)
        if payload is not None:
            problems += check_webhook(payload)
        form_response = (payload or {}).get("form_response") or {}
        event_id = (payload or {}).get("event_id")
        with self._lock:
            duplicate = isinstance(event_id, str) and event_id in self._seen
            if isinstance(event_id, str):
                self._seen.add(event_id)
            queue = self._scripts.get(path)
            status = 401 if signature_ok is False else 400 if problems else 200
            if queue:
                status = queue.pop(0)
            self.verdicts.append(
                TypeformVerdict(
                    path,
                    status,
                    signature_ok,
                    problems,
                    event_id if isinstance(event_id, str) else None,
                    _str_or_none(form_response.get("form_id")),
                    _str_or_none(form_response.get("token")),
                    duplicate,
                    headers,
                    body,
                )
            )
        return JSONResponse({"ok": status < 300, "problems": problems}, status_code=status)

    async def _list(self, request: Request) -> Response:
        with self._lock:
            items = [
                {
                    "path": v.path,
                    "status": v.status,
                    "signatureOk": v.signature_ok,
                    "problems": v.problems,
                    "eventId": v.event_id,
                    "token": v.token,
                    "duplicate": v.duplicate,
                }
                for v in self.verdicts
            ]
        return JSONResponse(items)


def check_webhook(payload: Mapping[str, Any]) -> list[str]:
    """Every way ``payload`` differs from a Typeform ``form_response`` webhook (empty: none)."""
    problems = []
    if not isinstance(payload.get("event_id"), str) or not payload["event_id"]:
        problems.append("event_id: missing")
    if payload.get("event_type") not in ("form_response", "form_response_partial"):
        problems.append(f"event_type: {payload.get('event_type')!r}")
    response = payload.get("form_response")
    if not isinstance(response, Mapping):
        return [*problems, "form_response: missing"]
    for name in ("form_id", "token"):
        if not isinstance(response.get(name), str) or not response[name]:
            problems.append(f"form_response.{name}: missing")
    for name in ("landed_at", "submitted_at"):
        if not _is_time(response.get(name)):
            problems.append(f"form_response.{name}: not an ISO 8601 time")
    hidden = response.get("hidden") or {}
    if not isinstance(hidden, Mapping) or not all(isinstance(v, str) for v in hidden.values()):
        problems.append("form_response.hidden: values must be strings")
    definition = response.get("definition")
    if not isinstance(definition, Mapping) or not isinstance(definition.get("fields"), list):
        return [*problems, "form_response.definition.fields: missing"]
    if definition.get("id") != response.get("form_id"):
        problems.append("definition.id differs from form_id")
    fields = {f.get("id"): f for f in _walk(definition["fields"])}
    answered: set[str] = set()
    for index, answer in enumerate(response.get("answers") or []):
        where = f"answers[{index}]"
        if not isinstance(answer, Mapping):
            problems.append(f"{where}: not an object")
            continue
        ref = answer.get("field") or {}
        known = fields.get(ref.get("id"))
        if known is None:
            problems.append(f"{where}.field.id {ref.get('id')!r}: not in definition.fields")
            continue
        if ref.get("id") in answered:
            problems.append(f"{where}: field {ref.get('id')!r} answered twice")
        answered.add(str(ref.get("id")))
        problems += [f"{where}: {p}" for p in _check_answer(answer, ref, known)]
    return problems


def _check_answer(
    answer: Mapping[str, Any], ref: Mapping[str, Any], known: Mapping[str, Any]
) -> list[str]:
    field_type = known.get("type")
    if ref.get("type") != field_type:
        return [f"field.type {ref.get('type')!r} but the definition says {field_type!r}"]
    if "ref" in ref and "ref" in known and ref["ref"] != known["ref"]:
        return [f"field.ref {ref['ref']!r} but the definition says {known['ref']!r}"]
    answer_type = answer.get("type")
    if field_type in ("multiple_choice", "picture_choice"):
        allowed = {"choices" if known.get("allow_multiple_selections") else "choice"}
    else:
        allowed = set(_ANSWER_TYPES.get(str(field_type), ()))
    if answer_type not in allowed:
        return [f"type {answer_type!r} does not answer a {field_type} field"]
    if answer_type not in answer:
        return [f"value key {answer_type!r} is missing"]
    return _check_value(str(answer_type), answer[answer_type], known)


def _check_value(answer_type: str, value: Any, known: Mapping[str, Any]) -> list[str]:
    if answer_type in _STRING_VALUES:
        return [] if isinstance(value, str) else [f"{answer_type} must be a string"]
    if answer_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else ["number must be a number"]
    if answer_type == "boolean":
        return [] if isinstance(value, bool) else ["boolean must be true or false"]
    if answer_type == "date":
        return [] if _is_date(value) else ["date must be YYYY-MM-DD"]
    if answer_type == "payment":
        ok = isinstance(value, Mapping) and all(k in value for k in ("amount", "last4", "name"))
        return [] if ok else ["payment needs amount, last4 and name"]
    if not isinstance(value, Mapping):
        return [f"{answer_type} must be an object"]
    choices = known.get("choices") or []
    if answer_type == "choice":
        if not isinstance(value.get("label", value.get("other")), str):
            return ["choice needs a label (or other)"]
        return _check_choice_refs(value.get("id"), value.get("ref"), value.get("label"), choices)
    labels = value.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return ["choices.labels must be a list of strings"]
    problems = []
    for key in ("ids", "refs"):
        if key in value and (not isinstance(value[key], list) or len(value[key]) != len(labels)):
            problems.append(f"choices.{key} must pair with labels")
    if problems:
        return problems
    ids, refs = value.get("ids") or [None] * len(labels), value.get("refs") or [None] * len(labels)
    for one_id, one_ref, label in zip(ids, refs, labels, strict=True):
        problems += _check_choice_refs(one_id, one_ref, label, choices)
    return problems


def _check_choice_refs(one_id: Any, one_ref: Any, label: Any, choices: list[Any]) -> list[str]:
    """A choice naming an id or ref must be one of the field's choices, label included."""
    if one_id is None and one_ref is None:
        return []
    for choice in choices:
        if (one_id is None or choice.get("id") == one_id) and (
            one_ref is None or choice.get("ref") == one_ref
        ):
            same = label is None or choice.get("label") == label
            return [] if same else [f"choice {one_id or one_ref!r}: label {label!r} differs"]
    return [f"choice id {one_id!r} / ref {one_ref!r}: not one of the field's choices"]


def _signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode("ascii")
    return header is not None and hmac.compare_digest(header.encode(), expected.encode())


def _decode(body: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, ["body: not JSON"]
    if not isinstance(payload, dict):
        return None, ["body: not a JSON object"]
    return payload, []


def _walk(fields: list[Any]) -> list[Mapping[str, Any]]:
    """Definition fields, with matrix/group sub-fields."""
    out: list[Mapping[str, Any]] = []
    for item in fields:
        if isinstance(item, Mapping):
            out.append(item)
            out += _walk((item.get("properties") or {}).get("fields") or [])
    return out


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _norm(path: str) -> str:
    return "/" + path.lstrip("/")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
