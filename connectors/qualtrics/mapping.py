"""Qualtrics shapes, both directions. Pure: no network, clock or randomness.

Outbound, a ``task.completed`` event becomes the ``{"values": {...}}`` body of
``POST /API/v3/surveys/{surveyId}/responses`` (reference §7). Keys follow the GET response's
naming (reference §6): ``QIDn`` for NPS, MC and scale answers, ``QIDn_TEXT`` for text entry,
``QIDn_{statement}`` for slider and matrix statements, arrays of recodes for multi-select.
Choice values are the survey's *recodes*, read from the mapping and never guessed from position::

    options = {"surveyId": "SV_9xCtQ4mP7nR2kLs",
               "questions": {"<questionRef>": {"qid": "QID2", "kind": "single",
                                               "recodes": {"<optionKey>": 2},
                                               "statement": "1"}},   # slider/matrix only
               "userLanguage": "EN", "distributionChannel": "anonymous",  # defaults shown
               "skipUnmapped": false,      # true: leave questions without a mapping out
               "provenance": true,         # false: no provenance embedded data
               "responseSchema": {...}}    # optional GET /response-schema reply to check against

Without ``questions`` the default mapping is ``DEFAULT_QUESTIONS``: person.run's 5-question
concept-test skill as laid out in reference §9 (NPS QID1, purchase intent QID2, appeal drivers
QID3, open feedback QID4_TEXT, overall rating slider QID5_1). Provenance goes in as embedded data
(``study_id``, ``task_id``, ``persona_id``, ``synthetic``) so anyone can filter synthetic rows;
the survey's flow must declare those four fields (or set ``"provenance": false``).

Inbound, the full response (``GET /API/v3/surveys/{sid}/responses/{rid}``) becomes
``survey.response.completed`` data: one answer per question key, ``questionId`` being the
``values`` key itself (``QID1``, ``QID3_TEXT``, ``QID4_2``, ``QID7_4_TEXT``); derived keys
(``_DO``, ``_NPS_GROUP``, timing, meta info) are left out, embedded data becomes ``hidden``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from jsonschema import Draft202012Validator

from connectors._shared import parse_utc, utc_seconds
from gateway.adapters import RenderedRequest
from gateway.errors import MappingError
from gateway.ids import derived_id


class Kind(StrEnum):
    """How a question's answer is keyed and valued in ``values``."""

    NPS = "nps"  # QIDn = 0..10 (Qualtrics derives QIDn_NPS_GROUP itself)
    SINGLE = "single"  # MC single answer: QIDn = the chosen option's recode
    MULTI = "multi"  # MC multiple answer: QIDn = [recodes] ([I] in the reference)
    TEXT = "text"  # text entry: QIDn_TEXT = string
    SLIDER = "slider"  # slider / star rating statement: QIDn_{statement} = number
    MATRIX = "matrix"  # matrix table statement: QIDn_{statement} = column recode
    NUMBER = "number"  # MC scale answered with a number: QIDn = the number (or its recode)


DEFAULT_QUESTIONS: dict[str, dict[str, Any]] = {
    "nps": {"qid": "QID1", "kind": "nps"},
    "purchase_intent": {
        "qid": "QID2",
        "kind": "single",
        "recodes": {
            "definitely": 1,
            "probably": 2,
            "not_sure": 3,
            "probably_not": 4,
            "definitely_not": 5,
        },
    },
    "appeal_drivers": {
        "qid": "QID3",
        "kind": "multi",
        "recodes": {"taste": 1, "price": 2, "sustainability": 3, "nutrition": 4, "packaging": 5},
    },
    "open_feedback": {"qid": "QID4", "kind": "text"},
    "overall_rating": {"qid": "QID5", "kind": "slider", "statement": "1"},
}

EMBEDDED_PROVENANCE = ("study_id", "task_id", "persona_id", "synthetic")

# values keys that describe the response rather than answer a question (reference §6)
METADATA_KEYS = frozenset(
    {
        "startDate",
        "endDate",
        "recordedDate",
        "status",
        "progress",
        "duration",
        "finished",
        "ipAddress",
        "locationLatitude",
        "locationLongitude",
        "distributionChannel",
        "userLanguage",
        "_recordId",
        "recipientEmail",
        "recipientFirstName",
        "recipientLastName",
        "externalDataReference",
    }
)
# suffixes Qualtrics derives or records as paradata: never answers, never sent by us
DERIVED_SUFFIXES = (
    "_DO",
    "_NPS_GROUP",
    "_FIRST_CLICK",
    "_LAST_CLICK",
    "_PAGE_SUBMIT",
    "_CLICK_COUNT",
    "_BROWSER",
    "_VERSION",
    "_OS",
    "_RESOLUTION",
)

_QID = re.compile(r"^QID\d+$")
_QUESTION_KEY = re.compile(r"^QID\d+([#_].*)?$")
_SURVEY_ID = re.compile(r"^SV_[A-Za-z0-9]+$")
_RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]+$")


# ---------------------------------------------------------------------------------------------
# the API's addresses


def api_base(url: str) -> str:
    """The datacenter base (``https://acme.eu.qualtrics.com``) from a destination or source url."""
    base = url.rstrip("/")
    return base[: -len("/API/v3")] if base.endswith("/API/v3") else base


def responses_url(base_url: str, survey_id: str) -> str:
    """``POST`` here creates a response."""
    return f"{api_base(base_url)}/API/v3/surveys/{_checked(_SURVEY_ID, survey_id)}/responses"


def response_request(
    base_url: str, api_token: str, survey_id: str, response_id: str
) -> RenderedRequest:
    """``GET /API/v3/surveys/{sid}/responses/{rid}``: the follow-up fetch after a callback.

    The ids come from a callback, so they are checked against Qualtrics' id shapes before they
    go into a path that carries the API token (``MappingError`` otherwise).
    """
    url = f"{responses_url(base_url, survey_id)}/{_checked(_RESPONSE_ID, response_id)}"
    return RenderedRequest(url=url, body=b"", headers={"X-API-TOKEN": api_token}, method="GET")


def response_schema_request(base_url: str, api_token: str, survey_id: str) -> RenderedRequest:
    """``GET /API/v3/surveys/{sid}/response-schema``: every legal ``values`` key of a survey."""
    url = f"{api_base(base_url)}/API/v3/surveys/{_checked(_SURVEY_ID, survey_id)}/response-schema"
    return RenderedRequest(url=url, body=b"", headers={"X-API-TOKEN": api_token}, method="GET")


def _checked(pattern: re.Pattern[str], value: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise MappingError(f"{value!r} is not a Qualtrics id of the expected shape")
    return value


# ---------------------------------------------------------------------------------------------
# outbound: task.completed -> {"values": {...}}


def check_options(options: Mapping[str, Any]) -> list[str]:
    """Problems with a destination's options (empty when usable), for a 422 at creation."""
    problems = []
    survey_id = options.get("surveyId")
    if not isinstance(survey_id, str) or not _SURVEY_ID.match(survey_id):
        problems.append("options.surveyId: a Qualtrics survey id (SV_...) is required")
    questions = options.get("questions")
    if questions is not None and not isinstance(questions, Mapping):
        return [*problems, "options.questions: an object of questionRef -> {qid, kind}"]
    for ref, spec in (questions or {}).items():
        where = f"options.questions.{ref}"
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: an object {{qid, kind, recodes?, statement?}}")
            continue
        if not isinstance(spec.get("qid"), str) or not _QID.match(spec["qid"]):
            problems.append(f"{where}.qid: a question id like QID2")
        if spec.get("kind") not in set(Kind):
            problems.append(f"{where}.kind: one of {', '.join(Kind)}")
        if "recodes" in spec and not isinstance(spec["recodes"], Mapping):
            problems.append(f"{where}.recodes: an object of optionKey -> recode")
    return problems


def render_values(
    data: Mapping[str, Any], *, options: Mapping[str, Any], recorded_at: datetime
) -> dict[str, Any]:
    """The create-response body for one ``task.completed`` event's ``data``.

    ``recorded_at`` is when the gateway recorded the event (the same on every retry). Raises
    ``MappingError`` naming the question when a mapping is missing or a value does not fit.
    """
    completed = parse_utc(str(data["completedAt"]))
    started = parse_utc(str(data.get("startedAt") or data.get("createdAt") or completed))
    values: dict[str, Any] = {
        "startDate": utc_seconds(started),
        "endDate": utc_seconds(completed),
        "status": 0,  # a normal response ("IP Address"), as the reference request sends
        "progress": 100,
        "duration": max(0, round((completed - started).total_seconds())),
        "finished": 1,
        "recordedDate": _millis(recorded_at),
        "distributionChannel": str(options.get("distributionChannel") or "anonymous"),
        "userLanguage": str(options.get("userLanguage") or "EN"),
    }
    questions: Mapping[str, Any] = options.get("questions") or DEFAULT_QUESTIONS
    for answer in data["results"]["answers"]:
        ref = str(answer.get("questionRef") or answer["questionId"])
        spec = questions.get(ref) or questions.get(str(answer["questionId"]))
        if spec is None:
            if options.get("skipUnmapped"):
                continue
            where = "options.questions" if options.get("questions") else "the default mapping"
            raise MappingError(f"question {ref!r} has no Qualtrics question in {where}")
        rendered = _render_answer(ref, answer, spec)
        if rendered is not None:
            values[rendered[0]] = rendered[1]
    if options.get("provenance", True) is False:
        return {"values": values}
    provenance = data.get("provenance") or {}
    values.update(
        {
            "study_id": str(data["studyId"]),
            "task_id": str(data["taskId"]),
            "persona_id": str(data["persona"]["id"]),
            "synthetic": "true" if provenance.get("synthetic", True) else "false",
        }
    )
    return {"values": values}


def values_key(spec: Mapping[str, Any]) -> str:
    """The ``values`` key a mapped question is answered under."""
    qid, kind = str(spec["qid"]), Kind(spec["kind"])
    if kind is Kind.TEXT:
        return f"{qid}_TEXT"
    if kind in (Kind.SLIDER, Kind.MATRIX):
        return f"{qid}_{spec.get('statement', '1')}"
    return qid


def _render_answer(
    ref: str, answer: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[str, Any] | None:
    value = answer.get("value")
    if value is None or value == [] or value == "":
        return None  # unanswered questions are absent from values, not null
    kind = Kind(spec["kind"])
    recodes: Mapping[str, Any] = spec.get("recodes") or {}
    keys = [str(k) for k in answer.get("optionKeys") or (value if isinstance(value, list) else [])]
    if kind is Kind.TEXT:
        if not isinstance(value, str):
            raise MappingError(f"question {ref!r}: text entry needs a string, got {value!r}")
        out: Any = value
    elif kind in (Kind.NPS, Kind.SLIDER):
        out = _number(ref, value, whole=kind is Kind.NPS)
        if kind is Kind.NPS and not 0 <= out <= 10:
            raise MappingError(f"question {ref!r}: NPS {out} is outside 0..10")
    elif kind is Kind.MULTI:
        out = [_recode(ref, k, recodes) for k in keys or [str(value)]]
    elif isinstance(value, str) or kind is Kind.SINGLE:
        chosen = keys or [str(value)]
        if len(chosen) != 1:
            raise MappingError(f"question {ref!r}: {len(chosen)} options for a single answer")
        out = _recode(ref, chosen[0], recodes)
    else:  # MATRIX / NUMBER answered with a number: a recode when the mapping has them
        number = _number(ref, value, whole=False)
        out = _recode(ref, _number_key(number), recodes) if recodes else number
    return values_key(spec), out


def _recode(ref: str, option_key: str, recodes: Mapping[str, Any]) -> Any:
    if option_key not in recodes:
        raise MappingError(
            f"question {ref!r}: option {option_key!r} has no recode in the Qualtrics mapping"
        )
    return recodes[option_key]


def _number(ref: str, value: Any, *, whole: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError(f"question {ref!r}: {value!r} is not a number")
    if whole:
        if value != int(value):
            raise MappingError(f"question {ref!r}: {value!r} is not a whole number")
        return int(value)
    return value


def _number_key(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def check_values_against_schema(
    values: Mapping[str, Any], response_schema: Mapping[str, Any]
) -> list[str]:
    """Problems of ``values`` against a survey's ``GET /response-schema`` reply (or its result).

    The legal keys are ``result.properties.values.properties`` (reference §6); each value is also
    checked against its property's JSON Schema. Derived keys (``_DO``, ``_NPS_GROUP``) are flagged:
    Qualtrics computes them.
    """
    root = response_schema.get("result", response_schema)
    try:
        properties = root["properties"]["values"]["properties"]
    except (KeyError, TypeError):
        return ["the response schema has no properties.values.properties"]
    problems = []
    for key, value in values.items():
        if key.endswith(("_DO", "_NPS_GROUP")):
            problems.append(f"{key}: derived by Qualtrics, do not send it")
        elif key not in properties:
            problems.append(f"{key}: not a field of this survey")
        elif isinstance(properties[key], Mapping):
            for error in Draft202012Validator(properties[key]).iter_errors(value):
                problems.append(f"{key}: {error.message}")
    return problems


# ---------------------------------------------------------------------------------------------
# inbound: GET /responses/{rid} -> survey.response.completed data


def qualtrics_event_id(source_id: str, survey_id: str, response_id: str) -> str:
    """The gateway event id of one Qualtrics response; computable from the callback alone, so
    a repeated callback can be dropped before the follow-up GET."""
    return derived_id("evt", "qualtrics", source_id, survey_id, response_id)


def survey_data_from_response(
    response: Mapping[str, Any],
    *,
    survey_id: str,
    source_id: str | None,
    questions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``survey.response.completed`` data for a full Qualtrics response.

    ``response`` is the GET reply (``{"result": ..., "meta": ...}``) or its ``result``; the
    survey id comes from the callback (the reply does not repeat it). ``questions`` (the outbound
    mapping shape) adds ``questionRef`` and option-aware types; without it keys are read alone.
    Raises ``ValueError`` when the reply has no ``responseId``/``values`` or no end date.
    """
    result = response.get("result", response)
    values = result.get("values") if isinstance(result, Mapping) else None
    if not isinstance(values, Mapping) or not result.get("responseId"):
        raise ValueError("the Qualtrics reply has no result.responseId and result.values")
    labels: Mapping[str, Any] = result.get("labels") or {}
    by_key = {values_key(spec): (ref, spec) for ref, spec in (questions or {}).items()}
    answers, hidden = [], {}
    for key, value in values.items():
        if key in METADATA_KEYS:
            continue
        if not _QUESTION_KEY.match(key):
            hidden[key] = value  # embedded data
        elif not key.endswith(DERIVED_SUFFIXES):
            answers.append(_normalise_answer(key, value, values, labels, by_key.get(key)))
    submitted = values.get("endDate") or values.get("recordedDate")
    if not submitted:
        raise ValueError("the Qualtrics response has no endDate")
    started = values.get("startDate")
    return {
        "source": "qualtrics",
        "sourceId": source_id,
        "formId": survey_id,
        "responseId": str(result["responseId"]),
        "submittedAt": _iso(str(submitted)),
        "landedAt": _iso(str(started)) if started else None,
        "answers": answers,
        "hidden": hidden,
        "raw": None,
    }


def _normalise_answer(
    key: str,
    value: Any,
    values: Mapping[str, Any],
    labels: Mapping[str, Any],
    mapped: tuple[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:
    label = labels.get(key)
    kind = Kind(mapped[1]["kind"]) if mapped else None
    names: list[str] | None = None
    if kind in (Kind.NPS, Kind.SLIDER) or f"{key}_NPS_GROUP" in values:
        answer_type = "number"
    elif kind is Kind.TEXT or key.endswith("_TEXT"):
        answer_type = "text"
    elif isinstance(value, list):  # MC multiple answer: labels in the same order
        answer_type = "choices"
        names = [str(x) for x in label] if isinstance(label, list) else _names(value, mapped)
    elif label is not None or kind in (Kind.SINGLE, Kind.MATRIX):
        answer_type = "choice"
        names = [str(label)] if label is not None else _names([value], mapped)
    elif isinstance(value, bool):
        answer_type = "boolean"
    elif isinstance(value, int | float):
        answer_type = "number"
    else:
        answer_type = "text"
    out: dict[str, Any] = {
        "questionId": key,
        "questionRef": mapped[0] if mapped else None,
        "type": answer_type,
        "prompt": None,  # the response does not carry question text
    }
    if names is None:
        out["value"] = value
    else:
        out["value"] = names if answer_type == "choices" else names[0]
        out["optionLabels"] = names
    return out


def _names(recodes: list[Any], mapped: tuple[str, Mapping[str, Any]] | None) -> list[str]:
    """Option keys for recodes via the mapping; the recode itself when unknown."""
    reverse = {
        str(v): str(k) for k, v in ((mapped[1].get("recodes") or {}) if mapped else {}).items()
    }
    return [reverse.get(str(r), str(r)) for r in recodes]


# ---------------------------------------------------------------------------------------------
# time


def _millis(moment: datetime) -> str:
    """``2024-05-14T16:21:09.000Z``: recordedDate's form; naive means UTC."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso(text: str) -> str:
    """UTC ISO 8601 with ``Z``, milliseconds kept when present."""
    moment = parse_utc(text)
    return _millis(moment) if moment.microsecond else utc_seconds(moment)
