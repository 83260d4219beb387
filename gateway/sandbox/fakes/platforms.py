"""Fake Zapier, Make and n8n receivers that answer the way the real platforms do.

``create_platform_receiver("zapier" | "make" | "n8n")`` returns a Starlette app that accepts any
path (a catch hook, a Make hook token, an n8n ``/webhook/<path>``) and its ``PlatformRecorder``.
Serve the app on 127.0.0.1 (uvicorn) or drive it with Starlette's ``TestClient``.

What each fake answers (the platform research note, §1.4, §2.1, §3.1, §9):

======== ========================================================= ==============================
platform success                                                  refusals it produces itself
======== ========================================================= ==============================
zapier   200 ``{"status":"success","attempt","id","request_id"}``  413 over 10 MB
make     200 text ``Accepted``                                     413 over 5 MB; 401 bad API key
n8n      200 ``{"message":"Workflow was started"}``                413 over 16 MiB; 403/401 auth;
                                                                   404 for a method but POST
======== ========================================================= ==============================

``recorder.script([410])`` makes the next request answer 410 (``[500, 500]``: the next two 500),
with the platform's usual body for that status; a ``ScriptedResponse`` sets body and headers
(``Retry-After``); ``script([…], path=…)`` scripts one hook only. Every request is recorded
(path, headers, raw body, time, the status answered, and whether its Standard Webhooks signature
verified once ``expect_secret`` is set); ``peak_requests_per_second()`` measures the sending
rate for rate-cap tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import signing
from gateway.errors import SignatureError

PLATFORMS = ("zapier", "make", "n8n")
MAX_BODY_BYTES = {"zapier": 10_000_000, "make": 5_000_000, "n8n": 16 * 1024 * 1024}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
N8N_REALM = 'Basic realm="Webhook"'


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it, and what it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # raw, exactly as received (verify signatures over these bytes)
    received_at: datetime  # wall clock, UTC
    monotonic: float  # seconds on the recorder's clock (rates)
    status: int  # the status the fake answered
    verified: bool | None = None  # the Standard Webhooks signature; None when no secret is set

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class ScriptedResponse:
    """An answer to give once. ``body=None`` means the platform's usual body for ``status``."""

    status: int
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None  # None: JSON when the body parses, else text/plain
    delay_seconds: float = 0.0  # answer this late (timeout tests)


class PlatformRecorder:
    """Thread-safe log of what one fake received, and its script of answers to come."""

    def __init__(self, platform: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.platform = platform
        self._clock = clock
        self._requests: list[RecordedRequest] = []
        self._scripts: dict[str | None, deque[ScriptedResponse]] = {}
        self._secrets: dict[str | None, list[str]] = {}
        self._changed = threading.Condition()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of everything received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    def script(self, answers: Iterable[int | ScriptedResponse], *, path: str | None = None) -> None:
        """Answer the next requests (to ``path``, or to any path) with these, in order.

        Appends to what is left of the script; a path's own script comes before the general one.
        """
        items = [a if isinstance(a, ScriptedResponse) else ScriptedResponse(a) for a in answers]
        with self._changed:
            self._scripts.setdefault(path, deque()).extend(items)

    def expect_secret(self, *secrets: str, path: str | None = None) -> None:
        """Verify the Standard Webhooks signature of requests (to ``path``) with these secrets."""
        with self._changed:
            self._secrets[path] = list(secrets)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget the requests and any script left (secrets stay)."""
        with self._changed:
            self._requests.clear()
            self._scripts.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests arrived (from another thread); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._requests) >= count, timeout)

    async def wait_for_async(self, count: int, timeout: float = 10.0) -> bool:
        """``wait_for`` for code on the event loop that serves the fake."""
        deadline = self._clock() + timeout
        while len(self.requests) < count:
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def peak_requests_per_second(self, window: float = 1.0, path: str | None = None) -> int:
        """The most requests (to ``path``, or to any path) inside any ``window`` seconds."""
        times = [r.monotonic for r in self.requests if path is None or r.path == path]
        peak, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            peak = max(peak, end - start + 1)
        return peak

    def requests_per_second(self) -> dict[int, int]:
        """Requests counted per whole second since the first one."""
        times = [r.monotonic for r in self.requests]
        counts: dict[int, int] = {}
        for at in times:
            second = int(at - times[0])
            counts[second] = counts.get(second, 0) + 1
        return counts

    def _next_scripted(self, path: str) -> ScriptedResponse | None:
        with self._changed:
            for key in (path, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
            return None

    def _verify(self, path: str, headers: Mapping[str, str], body: bytes) -> bool | None:
        with self._changed:
            secrets = self._secrets.get(path, self._secrets.get(None))
        if not secrets:
            return None
        try:
            signing.verify(body, headers, secrets, now=int(time.time()))
        except SignatureError:
            return False
        return True

    def _record(self, request: Request, body: bytes, status: int) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=datetime.now(UTC),
            monotonic=self._clock(),
            status=status,
            verified=self._verify(request.url.path, request.headers, body),
        )
        with self._changed:
            self._requests.append(entry)
            self._changed.notify_all()


def create_platform_receiver(
    platform: str,
    *,
    header_auth: tuple[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    api_key: str | None = None,
    max_body_bytes: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Starlette, PlatformRecorder]:
    """A fake receiving end for ``platform`` and the recorder that watches it.

    ``header_auth`` (name, value) or ``basic_auth`` (user, password) make the n8n fake check
    credentials as a Webhook node does; ``api_key`` makes the Make fake require ``x-make-apikey``.
    ``max_body_bytes`` defaults to the platform's cap.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; one of {PLATFORMS}")
    if (header_auth or basic_auth) and platform != "n8n":
        raise ValueError("header_auth and basic_auth are n8n Webhook node options")
    if api_key is not None and platform != "make":
        raise ValueError("api_key is a Make custom webhook option")
    recorder = PlatformRecorder(platform, clock=clock)
    cap = MAX_BODY_BYTES[platform] if max_body_bytes is None else max_body_bytes

    async def receive(request: Request) -> Response:
        body = await request.body()
        answer = recorder._next_scripted(request.url.path) or _refusal(
            platform, request, body, cap, header_auth, basic_auth, api_key
        )
        if answer.delay_seconds:
            await asyncio.sleep(answer.delay_seconds)
        response = _respond(platform, request, answer)
        recorder._record(request, body, response.status_code)
        return response

    app = Starlette(routes=[Route("/{path:path}", receive, methods=ALL_METHODS)])
    return app, recorder


def _refusal(
    platform: str,
    request: Request,
    body: bytes,
    cap: int,
    header_auth: tuple[str, str] | None,
    basic_auth: tuple[str, str] | None,
    api_key: str | None,
) -> ScriptedResponse:
    """What the platform itself would answer: a refusal, or 200 (status 200, usual body)."""
    if len(body) > cap:
        return ScriptedResponse(413)
    if platform == "n8n":
        if request.method != "POST":
            return ScriptedResponse(404, _n8n_wrong_method(request.method))
        if header_auth is not None and request.headers.get(header_auth[0]) != header_auth[1]:
            return ScriptedResponse(403)
        if basic_auth is not None:
            given = request.headers.get("authorization")
            if given is None:
                return ScriptedResponse(401)
            if given != _basic(*basic_auth):
                return ScriptedResponse(403)
    if api_key is not None and request.headers.get("x-make-apikey") != api_key:
        return ScriptedResponse(401)
    return ScriptedResponse(200)


def _respond(platform: str, request: Request, answer: ScriptedResponse) -> Response:
    body, headers = answer.body, dict(answer.headers)
    if body is None:
        body, usual_headers = _usual(platform, request, answer.status)
        headers = {**usual_headers, **headers}
    media_type = answer.content_type or ("application/json" if _is_json(body) else "text/plain")
    return Response(body, status_code=answer.status, headers=headers, media_type=media_type)


def _usual(platform: str, request: Request, status: int) -> tuple[bytes, dict[str, str]]:
    """The platform's own body (and headers) for ``status``."""
    if platform == "zapier" and status == 200:
        return _json(
            {
                "status": "success",
                "attempt": str(uuid.uuid4()),
                "id": str(uuid.uuid4()),
                "request_id": uuid.uuid4().hex[:16],
            }
        ), {}
    if platform == "make":
        text = {
            200: "Accepted",
            401: "Invalid API key.",
            410: "There is no scenario listening for this webhook.",
            429: "Too many requests",
        }.get(status)
        if text is not None:
            return text.encode(), {}
    if platform == "n8n":
        if status == 200:
            return _json({"message": "Workflow was started"}), {}
        if status == 403:
            return b"Authorization data is wrong!", {"WWW-Authenticate": N8N_REALM}
        if status == 401:
            return b"Authorization is required!", {"WWW-Authenticate": N8N_REALM}
        if status == 404:
            return _n8n_not_registered(request), {}
    return _phrase(status).encode(), {}


def _n8n_not_registered(request: Request) -> bytes:
    path = request.url.path.split("/", 2)[-1]
    test = request.url.path.startswith("/webhook-test/")
    hint = (
        "Click the 'Execute workflow' button on the canvas, then try again. (In test mode, the "
        "webhook only works for one call after you click this button)"
        if test
        else "The workflow must be active for a production URL to run successfully. You can "
        "activate the workflow using the toggle in the top-right of the editor."
    )
    message = f'The requested webhook "{request.method} {path}" is not registered.'
    return _json({"code": 404, "message": message, "hint": hint})


def _n8n_wrong_method(method: str) -> bytes:
    message = (
        f"This webhook is not registered for {method} requests. "
        "Did you mean to make a POST request?"
    )
    return _json({"code": 404, "message": message})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _is_json(body: bytes) -> bool:
    if not body.strip().startswith((b"{", b"[")):
        return False
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
