"""A fake Qualtrics API: the response routes in Qualtrics' shapes, seeded from the reference.

Routes (``X-API-TOKEN`` on all; replies ``{"result": ..., "meta": {"httpStatus", "requestId"}}``,
errors ``{"meta": {"httpStatus", "requestId", "error": {"errorMessage", "errorCode"}}}`` [I]):

    GET  /API/v3/surveys/{sid}/responses/{rid}     the full response: values (with the derived
                                                   _DO/_NPS_GROUP keys), labels, displayedFields,
                                                   displayedValues (reference §6)
    POST /API/v3/surveys/{sid}/responses           {"values": {...}} checked key by key against the
                                                   survey's response schema; 200 {"result":
                                                   {"responseId": "R_..."}}; 400 naming bad keys
    GET  /API/v3/surveys/{sid}/response-schema     JSON Schema; result.properties.values.properties
                                                   lists every legal key
    POST /_fake/failures {status, times?, route?, retryAfter?}   script failures out of process
    GET  /_fake/requests                                         what was received

Two surveys are seeded, with their responses as in the reference samples:
``SV_9xCtQ4mP7nR2kLs`` (person.run's 5-question concept test; ``R_3dW8vB1nM6qZ2yH``) and
``SV_bK3mQ9xT2vL7pNw`` (MC single/multi, text, matrix, slider, NPS, MC with "other";
``R_2aX9kLmQ4pZ7tVy``). ``completed_callback`` builds the event-subscription POST Qualtrics would
send for a response (plain, or ``HMAC``/``MSG`` with a shared key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_API_TOKEN = "fake-qualtrics-token"
_STATUS = {
    200: "200 - OK",
    400: "400 - Bad Request",
    401: "401 - Unauthorized",
    403: "403 - Forbidden",
    404: "404 - Not Found",
    429: "429 - Too Many Requests",
    500: "500 - Internal Server Error",
    503: "503 - Service Unavailable",
}
_NPS_GROUPS = ((6, 1, "Detractor"), (8, 2, "Passive"), (10, 3, "Promoter"))  # [I] coding
_STATUS_LABELS = {
    0: "IP Address",
    1: "Survey Preview",
    2: "Survey Test",
    4: "Imported",
    8: "Spam",
    16: "Offline",
}
_METADATA: dict[str, dict[str, Any]] = {
    "startDate": {"type": "string", "format": "date-time"},
    "endDate": {"type": "string", "format": "date-time"},
    "status": {"type": "integer"},
    "ipAddress": {"type": "string"},
    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    "duration": {"type": "integer", "minimum": 0},
    "finished": {"type": "integer", "enum": [0, 1]},
    "recordedDate": {"type": "string", "format": "date-time"},
    "_recordId": {"type": "string"},
    "locationLatitude": {"type": "string"},
    "locationLongitude": {"type": "string"},
    "recipientLastName": {"type": "string"},
    "recipientFirstName": {"type": "string"},
    "recipientEmail": {"type": "string"},
    "externalDataReference": {"type": "string"},
    "distributionChannel": {"type": "string"},
    "userLanguage": {"type": "string"},
}


@dataclass(frozen=True)
class Question:
    """One question of a survey definition; choice ids equal their recodes here."""

    qid: str
    kind: str  # nps | mc | mc_multi | text | slider | matrix
    choices: tuple[tuple[int, str], ...] = ()  # (recode, label) in display order
    statements: tuple[str, ...] = ()  # slider / matrix sub-question ids
    text_choices: tuple[int, ...] = ()  # choices with a "please specify" box: QIDn_{c}_TEXT
    scale: tuple[float, float] = (0, 100)  # slider range


@dataclass
class Survey:
    id: str
    questions: tuple[Question, ...]
    embedded_data: tuple[str, ...] = ()
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> values as stored


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    problems: list[str]


@dataclass
class _Failure:
    status: int
    route: str | None  # "get" | "create" | "schema"; None for any
    retry_after: str | None
    body: dict[str, Any] | None


class FakeQualtrics:
    """``fake.app`` is the ASGI app; ``fake.requests`` what it received."""

    def __init__(self, api_token: str = DEFAULT_API_TOKEN, *, seed: bool = True) -> None:
        self.api_token = api_token
        self.surveys: dict[str, Survey] = {s.id: s for s in seed_surveys()} if seed else {}
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._counter = 0
        base = "/API/v3/surveys/{sid}"
        self.app = Starlette(
            routes=[
                Route(base + "/responses/{rid}", self._get_response, methods=["GET"]),
                Route(base + "/responses", self._create_response, methods=["POST"]),
                Route(base + "/response-schema", self._get_schema, methods=["GET"]),
                Route("/_fake/failures", self._script_failure, methods=["POST"]),
                Route("/_fake/requests", self._list_requests, methods=["GET"]),
            ]
        )

    def add_survey(self, survey: Survey) -> None:
        self.surveys[survey.id] = survey

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        route: str | None = None,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (before any check)."""
        after = None if retry_after is None else f"{retry_after:g}"
        with self._lock:
            self._failures += [_Failure(status, route, after, body) for _ in range(times)]

    def created(self, survey_id: str) -> dict[str, dict[str, Any]]:
        """Responses created through the API (seeded ones excluded), by response id."""
        return {
            rid: v
            for rid, v in self.surveys[survey_id].responses.items()
            if rid not in _SEED_RESPONSE_IDS
        }

    # -- routes ---------------------------------------------------------------------------

    async def _get_response(self, request: Request) -> Response:
        return await self._serve(request, "get", self._answer_get)

    async def _create_response(self, request: Request) -> Response:
        return await self._serve(request, "create", self._answer_create)

    async def _get_schema(self, request: Request) -> Response:
        return await self._serve(request, "schema", self._answer_schema)

    async def _serve(self, request: Request, route: str, answer: Any) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            failure = next((f for f in self._failures if f.route in (None, route)), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            status, reply, problems = (
                failure.status,
                failure.body or _error(failure.status, "scripted failure", "FAKE_SCRIPTED"),
                ["scripted"],
            )
        elif not hmac.compare_digest(
            headers.get("x-api-token", "").encode(), self.api_token.encode()
        ):
            status, reply = 401, _error(401, "The Authentication token is invalid.", "AUTH_6.0")
            problems = ["bad X-API-TOKEN"]
        else:
            status, reply, problems = answer(request.path_params, body)
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, headers, body, status, problems)
            )
        extra = {"Retry-After": failure.retry_after} if failure and failure.retry_after else {}
        return JSONResponse(reply, status_code=status, headers=extra)

    def _answer_get(self, params: Mapping[str, str], body: bytes) -> tuple[int, Any, list[str]]:
        survey = self.surveys.get(params["sid"])
        if survey is None or params["rid"] not in survey.responses:
            return 404, _error(404, "Response not found", "RS_404"), ["unknown response"]
        return 200, _ok(full_response(survey, params["rid"])), []

    def _answer_schema(self, params: Mapping[str, str], body: bytes) -> tuple[int, Any, list[str]]:
        survey = self.surveys.get(params["sid"])
        if survey is None:
            return 404, _error(404, "Survey not found", "SV_404"), ["unknown survey"]
        return 200, _ok(response_schema(survey)), []

    def _answer_create(self, params: Mapping[str, str], body: bytes) -> tuple[int, Any, list[str]]:
        survey = self.surveys.get(params["sid"])
        if survey is None:
            return 404, _error(404, "Survey not found", "SV_404"), ["unknown survey"]
        try:
            decoded = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            decoded = None
        if not isinstance(decoded, dict) or not isinstance(decoded.get("values"), dict):
            return 400, _error(400, 'Body must be {"values": {...}}', "RS_BODY"), ["no values"]
        problems = check_values(survey, decoded["values"])
        if problems:
            return 400, _error(400, "; ".join(problems), "RS_VALUES"), problems
        with self._lock:
            self._counter += 1
            digest = hashlib.sha256(f"{survey.id}\x1f{self._counter}".encode()).digest()
            response_id = "R_" + _base62(int.from_bytes(digest, "big"), 15)
            survey.responses[response_id] = _with_defaults(decoded["values"])
        return 200, _ok({"responseId": response_id}), []

    async def _script_failure(self, request: Request) -> Response:
        spec = await request.json()
        self.fail_next(
            int(spec["status"]),
            times=int(spec.get("times", 1)),
            route=spec.get("route"),
            retry_after=spec.get("retryAfter"),
        )
        return JSONResponse({"ok": True}, status_code=201)

    async def _list_requests(self, request: Request) -> Response:
        with self._lock:
            items = [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "problems": r.problems,
                    "body": r.body.decode("utf-8", "replace"),
                }
                for r in self.requests
            ]
        return JSONResponse(items)


# -- what Qualtrics derives from a survey definition ----------------------------------------


def response_schema(survey: Survey) -> dict[str, Any]:
    """The ``result`` of ``GET /response-schema``: a JSON Schema of one response."""
    properties = dict(_METADATA)
    for question in survey.questions:
        properties.update(_question_properties(question))
    properties.update({name: {"type": "string"} for name in survey.embedded_data})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": survey.id,
        "type": "object",
        "properties": {
            "responseId": {"type": "string"},
            "values": {"type": "object", "properties": properties},
            "labels": {"type": "object"},
            "displayedFields": {"type": "array", "items": {"type": "string"}},
            "displayedValues": {"type": "object"},
        },
    }


def _question_properties(q: Question) -> dict[str, dict[str, Any]]:
    recodes = [r for r, _ in q.choices]
    do: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if q.kind == "nps":
        return {
            q.qid: {"type": "integer", "minimum": 0, "maximum": 10},
            f"{q.qid}_NPS_GROUP": {"type": "integer", "enum": [1, 2, 3]},
        }
    if q.kind == "mc":
        out: dict[str, dict[str, Any]] = {q.qid: {"type": "integer", "enum": recodes}}
        out[f"{q.qid}_DO"] = do
        out.update({f"{q.qid}_{c}_TEXT": {"type": "string"} for c in q.text_choices})
        return out
    if q.kind == "mc_multi":
        items = {"type": "integer", "enum": recodes}
        return {q.qid: {"type": "array", "items": items, "uniqueItems": True}, f"{q.qid}_DO": do}
    if q.kind == "text":
        return {f"{q.qid}_TEXT": {"type": "string"}}
    if q.kind == "slider":
        low, high = q.scale
        return {
            f"{q.qid}_{s}": {"type": "number", "minimum": low, "maximum": high}
            for s in q.statements
        }
    return {f"{q.qid}_{s}": {"type": "integer", "enum": recodes} for s in q.statements}


def check_values(survey: Survey, values: Mapping[str, Any]) -> list[str]:
    """Why Qualtrics would refuse these ``values`` for this survey (empty: it accepts them)."""
    properties = response_schema(survey)["properties"]["values"]["properties"]
    problems = []
    for key, value in values.items():
        if key.endswith(("_DO", "_NPS_GROUP")):
            problems.append(f"{key}: derived by Qualtrics, cannot be set")
        elif key not in properties:
            problems.append(f"{key}: not a field of survey {survey.id}")
        else:
            problems += [
                f"{key}: {e.message}"
                for e in Draft202012Validator(properties[key]).iter_errors(value)
            ]
    return problems


def full_response(survey: Survey, response_id: str) -> dict[str, Any]:
    """The ``result`` of ``GET /responses/{rid}``: stored values plus what Qualtrics derives."""
    stored = survey.responses[response_id]
    values = {k: v for k, v in stored.items() if k in _METADATA}
    labels: dict[str, Any] = {
        "status": _STATUS_LABELS.get(stored.get("status", 0), "Unknown"),
        "finished": "True" if stored.get("finished") == 1 else "False",
    }
    displayed: list[str] = []
    displayed_values: dict[str, list[Any]] = {}
    for q in survey.questions:
        _derive(q, stored, values, labels, displayed, displayed_values)
    values.update({k: stored[k] for k in survey.embedded_data if k in stored})
    return {
        "responseId": response_id,
        "values": values,
        "labels": labels,
        "displayedFields": displayed,
        "displayedValues": displayed_values,
    }


def _derive(
    q: Question,
    stored: Mapping[str, Any],
    values: dict[str, Any],
    labels: dict[str, Any],
    displayed: list[str],
    shown: dict[str, list[Any]],
) -> None:
    names = dict(q.choices)
    order = [str(r) for r, _ in q.choices]
    if q.kind in ("nps", "mc", "mc_multi") and q.qid in stored:
        value = stored[q.qid]
        values[q.qid] = value
        displayed.append(q.qid)
        if q.kind == "nps":
            group = next((g, name) for top, g, name in _NPS_GROUPS if value <= top)
            values[f"{q.qid}_NPS_GROUP"] = group[0]
            labels[q.qid], labels[f"{q.qid}_NPS_GROUP"] = str(value), group[1]
            shown[q.qid] = list(range(11))
            return
        labels[q.qid] = [names[v] for v in value] if q.kind == "mc_multi" else names[value]
        values[f"{q.qid}_DO"], labels[f"{q.qid}_DO"] = order, [n for _, n in q.choices]
        shown[q.qid] = [r for r, _ in q.choices]
        for c in q.text_choices:
            if f"{q.qid}_{c}_TEXT" in stored:
                values[f"{q.qid}_{c}_TEXT"] = stored[f"{q.qid}_{c}_TEXT"]
                displayed.append(f"{q.qid}_{c}_TEXT")
    elif q.kind == "text" and f"{q.qid}_TEXT" in stored:
        values[f"{q.qid}_TEXT"] = stored[f"{q.qid}_TEXT"]
        displayed.append(f"{q.qid}_TEXT")
    elif q.kind in ("slider", "matrix"):
        for key in (f"{q.qid}_{s}" for s in q.statements if f"{q.qid}_{s}" in stored):
            values[key] = stored[key]
            displayed.append(key)
            if q.kind == "matrix":
                labels[key] = names[stored[key]]
                shown[key] = [r for r, _ in q.choices]


def _with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """What Qualtrics fills in for an API-created response that omits metadata [I]."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    defaults = {
        "startDate": stamp,
        "endDate": stamp,
        "status": 0,
        "progress": 100,
        "duration": 0,
        "finished": 1,
        "recordedDate": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
    }
    return {**defaults, **values}


# -- callbacks -------------------------------------------------------------------------------


def completed_callback(
    survey_id: str,
    response_id: str,
    *,
    shared_key: str | None = None,
    brand_id: str = "acmeresearch",
    completed_date: str = "2024-05-14 16:21:09",
) -> bytes:
    """The form-encoded ``completedResponse`` POST body for a response (reference §5)."""
    topic = f"{brand_id}.surveyengine.completedResponse.{survey_id}"
    fields = {
        "Status": "Complete",
        "SurveyID": survey_id,
        "ResponseID": response_id,
        "CompletedDate": completed_date,
        "BrandID": brand_id,
    }
    if shared_key is None:
        return urlencode({"Topic": topic, **fields}).encode("ascii")
    msg = json.dumps(fields, separators=(",", ":"))
    signature = hmac.new(shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()
    return urlencode({"Topic": topic, "HMAC": signature, "MSG": msg}).encode("ascii")


# -- seeds (reference samples) ---------------------------------------------------------------

_LIKERT = (
    (1, "Strongly disagree"),
    (2, "Somewhat disagree"),
    (3, "Neither agree nor disagree"),
    (4, "Somewhat agree"),
    (5, "Strongly agree"),
)
_SEED_RESPONSE_IDS = frozenset({"R_3dW8vB1nM6qZ2yH", "R_2aX9kLmQ4pZ7tVy"})


def seed_surveys() -> list[Survey]:
    """The two surveys of the reference samples, each with its one response."""
    concept = Survey(
        "SV_9xCtQ4mP7nR2kLs",
        (
            Question("QID1", "nps"),
            Question(
                "QID2",
                "mc",
                (
                    (1, "Definitely would buy"),
                    (2, "Probably would buy"),
                    (3, "Not sure"),
                    (4, "Probably would not buy"),
                    (5, "Definitely would not buy"),
                ),
            ),
            Question(
                "QID3",
                "mc_multi",
                (
                    (1, "Taste"),
                    (2, "Price"),
                    (3, "Sustainability"),
                    (4, "Nutrition"),
                    (5, "Packaging"),
                ),
            ),
            Question("QID4", "text"),
            Question("QID5", "slider", statements=("1",), scale=(1, 5)),
        ),
        embedded_data=("study_id", "task_id", "persona_id", "synthetic"),
    )
    concept.responses["R_3dW8vB1nM6qZ2yH"] = {
        "startDate": "2024-05-14T16:14:53Z",
        "endDate": "2024-05-14T16:21:08Z",
        "status": 0,
        "progress": 100,
        "duration": 375,
        "finished": 1,
        "recordedDate": "2024-05-14T16:21:09.000Z",
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
        "study_id": "study_oatmilk_concept_v2",
        "task_id": "task_01HXZ0A7D3Q8",
        "persona_id": "persona_7f3a91c2",
        "synthetic": "true",
        "QID1": 7,
        "QID2": 2,
        "QID3": [1, 3],
        "QID4_TEXT": "I'd want a smaller 500 ml carton and less added sugar — otherwise it's a "
        "good fit for my morning coffee.",
        "QID5_1": 4,
    }
    oat = Survey(
        "SV_bK3mQ9xT2vL7pNw",
        (
            Question("QID1", "mc", ((1, "Yes, regularly"), (2, "Sometimes"), (3, "Never"))),
            Question(
                "QID2",
                "mc_multi",
                (
                    (1, "Supermarket"),
                    (2, "Online grocery"),
                    (3, "Coffee shop"),
                    (4, "Convenience store"),
                ),
            ),
            Question("QID3", "text"),
            Question("QID4", "matrix", _LIKERT, statements=("1", "2", "3")),
            Question("QID5", "slider", statements=("1",)),
            Question("QID6", "nps"),
            Question(
                "QID7",
                "mc",
                ((1, "Supermarket"), (2, "Online grocery"), (3, "Coffee shop"), (4, "Other")),
                text_choices=(4,),
            ),
        ),
        # the provenance fields are declared in this survey's flow too, for synthetic imports
        embedded_data=(
            "respondent_ref",
            "utm_source",
            "study_id",
            "task_id",
            "persona_id",
            "synthetic",
        ),
    )
    oat.responses["R_2aX9kLmQ4pZ7tVy"] = {
        "startDate": "2024-05-14T16:14:53Z",
        "endDate": "2024-05-14T16:21:08Z",
        "status": 0,
        "ipAddress": "203.0.113.42",
        "progress": 100,
        "duration": 375,
        "finished": 1,
        "recordedDate": "2024-05-14T16:21:09.412Z",
        "locationLatitude": "37.7749",
        "locationLongitude": "-122.4194",
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
        "QID1": 2,
        "QID2": [1, 3],
        "QID3_TEXT": "Too sweet for coffee, but great on cereal.",
        "QID4_1": 5,
        "QID4_2": 3,
        "QID4_3": 4,
        "QID5_1": 72,
        "QID6": 9,
        "QID7": 4,
        "QID7_4_TEXT": "Farmers market",
        "respondent_ref": "r-1042",
        "utm_source": "newsletter",
    }
    return [concept, oat]


def _ok(result: Any) -> dict[str, Any]:
    return {"result": result, "meta": {"httpStatus": "200 - OK", "requestId": str(uuid.uuid4())}}


def _error(status: int, message: str, code: str) -> dict[str, Any]:
    return {
        "meta": {
            "httpStatus": _STATUS.get(status, f"{status} - Error"),
            "requestId": str(uuid.uuid4()),
            "error": {"errorMessage": message, "errorCode": code},
        }
    }


def _base62(number: int, length: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    chars = []
    for _ in range(length):
        number, index = divmod(number, 62)
        chars.append(alphabet[index])
    return "".join(chars)
