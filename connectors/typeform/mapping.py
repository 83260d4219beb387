"""Typeform shapes, both directions. Pure: no network, clock or randomness.

Outbound, a ``task.completed`` event becomes the body of a Typeform ``form_response`` webhook
(typeform.com/developers/webhooks/example-payload), as Typeform would send it for a form whose
fields are the task's questions. Typeform has no API to create responses, so this is what we can do:
POST Typeform-shaped, Typeform-signed bodies to consumers that already read Typeform webhooks.

Question -> field mapping (``destination.options``; every key optional)::

    {"formId": "Cn5pT8sQ",           # default: 8 chars derived from the study id
     "title": "Concept test",        # default: studyName, skill name, "person.run study <id>"
     "fields": {"<questionRef>": {
         "id": "Np0Sc9Re7Kw2",       # default: 12 chars derived from the question ref
         "ref": "nps",               # default: the question ref
         "type": "opinion_scale",    # default from the answer type (FIELD_TYPES)
         "choices": {"<optionKey>": {"id": "...", "ref": "..."}}}}}  # default: derived id, key

Inbound, a Typeform webhook (or a Responses API item) becomes ``survey.response.completed`` data.
Answers are keyed by ``field.id`` with ``field.ref`` beside it; unknown answer types pass through
with their value; choice ids/refs may be missing (older payloads). Only answered fields appear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors import _shared
from connectors._shared import parse_utc, utc_seconds
from gateway.errors import MappingError
from gateway.ids import derived_id

EVENT_TYPE_COMPLETED = "form_response"

# task answer type -> (Typeform field type by default, field types an option may choose instead)
FIELD_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "nps": ("nps", frozenset({"nps", "opinion_scale", "rating", "number"})),
    "rating": ("rating", frozenset({"rating", "opinion_scale", "nps", "number"})),
    "number": ("number", frozenset({"number", "rating", "opinion_scale", "nps"})),
    "single_choice": (
        "multiple_choice",
        frozenset({"multiple_choice", "dropdown", "picture_choice"}),
    ),
    "multi_choice": (
        "multiple_choice",
        frozenset({"multiple_choice", "picture_choice", "ranking"}),
    ),
    "free_text": ("long_text", frozenset({"long_text", "short_text"})),
    "boolean": ("yes_no", frozenset({"yes_no", "legal"})),
    "date": ("date", frozenset({"date"})),
    "email": ("email", frozenset({"email"})),
    "url": ("website", frozenset({"website"})),
}

# Typeform field type -> answer type, which is also the answer's value key (reference §1 table)
ANSWER_TYPES: dict[str, str] = {
    "short_text": "text",
    "long_text": "text",
    "email": "email",
    "phone_number": "phone_number",
    "date": "date",
    "number": "number",
    "rating": "number",
    "opinion_scale": "number",
    "nps": "number",
    "yes_no": "boolean",
    "legal": "boolean",
    "website": "url",
    "dropdown": "choice",
    "ranking": "choices",
}
_CHOICE_FIELDS = frozenset({"multiple_choice", "picture_choice", "dropdown", "ranking"})

# The default thank-you screen every Typeform form has
_ENDING = {
    "id": "DefaultTyScreen",
    "ref": "default_tys",
    "title": "Thanks for completing this typeform",
    "type": "thankyou_screen",
    "properties": {
        "button_text": "Create a *typeform*",
        "show_button": True,
        "share_icons": False,
        "button_mode": "default_redirect",
    },
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# ---------------------------------------------------------------------------------------------
# outbound: task.completed -> form_response webhook body


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes Typeform sends: compact JSON, UTF-8, non-ASCII kept raw.

    Unlike the platform connectors' bodies, NaN/Infinity are written rather than refused.
    """
    return _shared.encode_body(payload, allow_nan=True)


def delivery_event_id(gateway_event_id: str) -> str:
    """Typeform's ``event_id`` (a 26-char ULID) for a gateway event: the same on every retry.

    ``evt_<ULID>`` gives its ULID, so a consumer can match ``event_id`` to ``webhook-id``.
    """
    head, _, body = gateway_event_id.partition("_")
    if head == "evt" and len(body) == 26:
        return body
    return _stable_id(_CROCKFORD, 26, "event", gateway_event_id)


def render_webhook(
    data: Mapping[str, Any], *, event_id: str, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``form_response`` webhook body for one ``task.completed`` event's ``data``.

    Raises ``MappingError`` when an answer cannot be expressed (unknown type, a value of the wrong
    kind, an option key the question does not offer, a field type override that does not fit).
    """
    study_id = str(data["studyId"])
    task_id = str(data["taskId"])
    form_id = str(options.get("formId") or _stable_id(_BASE62, 8, "form", study_id))
    field_options: Mapping[str, Any] = options.get("fields") or {}
    fields: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for answer in data["results"]["answers"]:
        key = str(answer.get("questionRef") or answer["questionId"])
        mapping = field_options.get(key) or field_options.get(str(answer["questionId"])) or {}
        field, typeform_answer = _render_question(key, answer, mapping)
        fields.append(field)
        if typeform_answer is not None:
            answers.append(typeform_answer)
    provenance = data.get("provenance") or {}
    form_response = {
        "form_id": form_id,
        "token": hashlib.sha256(f"token\x1f{task_id}".encode()).hexdigest()[:32],
        "landed_at": _typeform_time(
            data.get("startedAt") or data.get("createdAt") or data["completedAt"]
        ),
        "submitted_at": _typeform_time(data["completedAt"]),
        "hidden": {
            "study_id": study_id,
            "task_id": task_id,
            "persona_id": str(data["persona"]["id"]),
            "synthetic": "true" if provenance.get("synthetic", True) else "false",
        },
        "calculated": {"score": 0},
        "variables": [{"key": "score", "type": "number", "number": 0}],
        "definition": {
            "id": form_id,
            "title": str(options.get("title") or _default_title(data)),
            "fields": fields,
            "endings": [_ENDING],
        },
        "answers": answers,
        "ending": {"id": _ENDING["id"], "ref": _ENDING["ref"]},
    }
    return {
        "event_id": event_id,
        "event_type": EVENT_TYPE_COMPLETED,
        "form_response": form_response,
    }


def _render_question(
    key: str, answer: Mapping[str, Any], mapping: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One definition field and its answer (``None`` when unanswered)."""
    task_type = str(answer["type"])
    if task_type not in FIELD_TYPES:
        raise MappingError(f"question {key!r}: answer type {task_type!r} has no Typeform field")
    default_type, allowed = FIELD_TYPES[task_type]
    field_type = str(mapping.get("type") or default_type)
    if field_type not in allowed:
        raise MappingError(
            f"question {key!r}: field type {field_type!r} cannot carry a {task_type} answer"
        )
    ref = str(mapping.get("ref") or key)
    field: dict[str, Any] = {
        "id": str(mapping.get("id") or _stable_id(_BASE62, 12, "field", key)),
        "ref": ref,
        "type": field_type,
        "title": str(answer.get("prompt") or key),
    }
    multiple = task_type == "multi_choice"
    if field_type in ("multiple_choice", "picture_choice"):
        field["allow_multiple_selections"] = multiple
        field["allow_other_choice"] = False
    field["properties"] = {}
    field_ref = {"id": field["id"], "type": field_type, "ref": ref}
    if field_type not in _CHOICE_FIELDS:
        value = answer.get("value")
        if value is None:
            return field, None
        answer_type = ANSWER_TYPES[field_type]
        return field, {
            "type": answer_type,
            answer_type: _scalar(key, answer_type, value),
            "field": field_ref,
        }
    choices = _choices(key, answer, mapping.get("choices") or {})
    field["choices"] = list(choices.values())
    picked = [choices[k] for k in _selected_keys(key, answer, choices, multiple)]
    if not picked:
        return field, None
    if multiple:
        value_obj: dict[str, Any] = {
            "ids": [c["id"] for c in picked],
            "labels": [c["label"] for c in picked],
            "refs": [c["ref"] for c in picked],
        }
        return field, {"type": "choices", "choices": value_obj, "field": field_ref}
    one = picked[0]
    value_obj = {"id": one["id"], "label": one["label"], "ref": one["ref"]}
    return field, {"type": "choice", "choice": value_obj, "field": field_ref}


def _choices(
    key: str, answer: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """The question's options as Typeform choices, keyed by option key, in the task's order."""
    if answer.get("options"):
        pairs = [(str(o["key"]), str(o["label"])) for o in answer["options"]]
    else:
        keys = [str(k) for k in answer.get("optionKeys") or _as_list(answer.get("value"))]
        labels = [str(x) for x in answer.get("optionLabels") or []]
        pairs = list(zip(keys, labels if len(labels) == len(keys) else keys, strict=True))
    out: dict[str, dict[str, str]] = {}
    for option_key, label in pairs:
        override = overrides.get(option_key) or {}
        out[option_key] = {
            "id": str(override.get("id") or _stable_id(_BASE62, 12, "choice", key, option_key)),
            "ref": str(override.get("ref") or option_key),
            "label": label,
        }
    return out


def _selected_keys(
    key: str, answer: Mapping[str, Any], choices: Mapping[str, Any], multiple: bool
) -> list[str]:
    selected = [str(k) for k in answer.get("optionKeys") or _as_list(answer.get("value"))]
    for option_key in selected:
        if option_key not in choices:
            raise MappingError(f"question {key!r}: option {option_key!r} is not one of its options")
    if not multiple and len(selected) > 1:
        raise MappingError(f"question {key!r}: a single choice answer has {len(selected)} options")
    return selected


def _scalar(key: str, answer_type: str, value: Any) -> Any:
    """Check ``value`` fits the answer type Typeform would send (reference §1 table)."""
    if answer_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif answer_type == "boolean":
        ok = isinstance(value, bool)
    elif answer_type == "date":
        ok = isinstance(value, str) and _is_date(value[:10])
        value = value[:10] if ok else value  # Typeform dates are YYYY-MM-DD
    else:
        ok = isinstance(value, str)
    if not ok:
        raise MappingError(f"question {key!r}: {value!r} is not a Typeform {answer_type} value")
    return value


def _default_title(data: Mapping[str, Any]) -> str:
    skill = data.get("skill") or {}
    return str(data.get("studyName") or skill.get("name") or f"person.run study {data['studyId']}")


# ---------------------------------------------------------------------------------------------
# inbound: form_response webhook -> survey.response.completed data


def parse_webhook(body: bytes) -> dict[str, Any]:
    """Decode a (verified) webhook body; ``ValueError`` unless it is a Typeform webhook object.

    The caller checks ``payload["event_type"]``: only ``form_response`` is a completed response
    (``form_response_partial`` is not).
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("form_response"), dict):
        raise ValueError("the body has no form_response object")
    if not isinstance(payload.get("event_type"), str):
        raise ValueError("the body has no event_type")
    return payload


def typeform_event_id(source_id: str, form_id: str, token: str) -> str:
    """The gateway event id of one Typeform response: the same however often it is delivered.

    Typeform delivers at least once (and once per webhook tag), so the identity is the response
    (form id + token), not Typeform's ``event_id``.
    """
    return derived_id("evt", "typeform", source_id, form_id, token)


def survey_data_from_webhook(
    payload: Mapping[str, Any], *, source_id: str | None
) -> dict[str, Any]:
    """``survey.response.completed`` data for a ``form_response`` webhook payload."""
    if payload.get("event_type") != EVENT_TYPE_COMPLETED:
        raise ValueError(f"event_type {payload.get('event_type')!r} is not a completed response")
    return survey_data_from_form_response(payload["form_response"], source_id=source_id)


def survey_data_from_form_response(
    form_response: Mapping[str, Any], *, source_id: str | None, form_id: str | None = None
) -> dict[str, Any]:
    """Normalise one ``form_response`` (webhook) or Responses API item (pass ``form_id``)."""
    form_id = form_id or form_response.get("form_id")
    token = form_response.get("token") or form_response.get("response_id")
    submitted = form_response.get("submitted_at")
    if not form_id or not token or not submitted:
        raise ValueError("form_response needs form_id, token and submitted_at")
    titles = {
        f["id"]: f.get("title")
        for f in _walk_fields((form_response.get("definition") or {}).get("fields") or [])
    }
    answers = [
        normalised
        for answer in form_response.get("answers") or []
        if (normalised := _normalise_answer(answer, titles)) is not None
    ]
    landed = form_response.get("landed_at")
    return {
        "source": "typeform",
        "sourceId": source_id,
        "formId": str(form_id),
        "responseId": str(token),
        "submittedAt": _typeform_time(str(submitted)),
        "landedAt": _typeform_time(str(landed)) if landed else None,
        "answers": answers,
        "hidden": dict(form_response.get("hidden") or {}),
        "raw": None,
    }


def _normalise_answer(
    answer: Mapping[str, Any], titles: Mapping[str, Any]
) -> dict[str, Any] | None:
    field = answer.get("field") or {}
    question_id = field.get("id") or field.get("ref")
    answer_type = answer.get("type")
    if not question_id or not isinstance(answer_type, str) or answer_type not in answer:
        return None  # nothing to key it by, or no value: ignore rather than fail the delivery
    raw = answer[answer_type]
    out: dict[str, Any] = {
        "questionId": str(question_id),
        "questionRef": field.get("ref"),
        "type": answer_type,
        "prompt": titles.get(str(field.get("id"))),
    }
    if answer_type in ("choice", "choices") and not isinstance(raw, Mapping):
        out["value"] = raw  # malformed; keep what came
    elif answer_type == "choice":  # {label, id?, ref?, other?}
        label = raw.get("label") if raw.get("label") is not None else raw.get("other")
        out["value"] = label
        out["optionLabels"] = [str(label)] if label is not None else []
    elif answer_type == "choices":  # {labels, ids?, refs?, other?}; ranking in rank order
        labels = [str(x) for x in raw.get("labels") or []]
        if raw.get("other"):
            labels.append(str(raw["other"]))
        out["value"] = labels
        out["optionLabels"] = labels
    else:
        out["value"] = raw
    return out


def _walk_fields(fields: list[Any]) -> Iterator[Mapping[str, Any]]:
    """Definition fields, including those nested in groups and matrices."""
    for field in fields:
        if isinstance(field, Mapping) and "id" in field:
            yield field
            yield from _walk_fields((field.get("properties") or {}).get("fields") or [])


# ---------------------------------------------------------------------------------------------
# helpers


def _typeform_time(text: str) -> str:
    """ISO 8601 UTC to the second with ``Z``: Typeform's timestamp form."""
    return utc_seconds(parse_utc(text))


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _stable_id(alphabet: str, length: int, *parts: str) -> str:
    """``length`` characters of ``alphabet`` drawn from a hash of ``parts``: same parts, same id."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)
