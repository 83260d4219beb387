"""A Standard Webhooks consumer: records every POST and verifies its signature like a real one.

It can be scripted to answer given statuses (``script([500, 500])``) with headers, and checks
``v1`` with the secret and ``v1a`` with the public keys it is given per path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import signing
from gateway.errors import SignatureError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time()
    status: int
    verified: bool | None  # None when no secret was registered for the path


@dataclass
class Script:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Script]] = {}
        self._secrets: dict[str, list[str]] = {}
        self._refuse_every: dict[str, int] = {}
        self._seen_ids: dict[str, list[str]] = {}
        self.defaults: dict[str, Script] = {}  # per path: the answer once its script is used up
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "PUT"])])

    def expect_secret(self, path: str, *secrets: str) -> None:
        self._secrets["/" + path.lstrip("/")] = list(secrets)

    def script(self, path: str, *answers: int | Script) -> None:
        items = [a if isinstance(a, Script) else Script(a) for a in answers]
        self._scripts.setdefault("/" + path.lstrip("/"), []).extend(items)

    def refuse_first_of_every(self, path: str, n: int) -> None:
        """Answer 500 the first time the n-th, 2n-th, … distinct ``webhook-id`` arrives on
        ``path``: with no retries those deliveries fail for good, and a replay (same id) succeeds.
        """
        self._refuse_every["/" + path.lstrip("/")] = n

    def refusals(self, path: str) -> int:
        """How many distinct events ``refuse_first_of_every`` has refused so far on ``path``."""
        n = self._refuse_every.get("/" + path.lstrip("/"))
        with self._lock:
            seen = len(self._seen_ids.get("/" + path.lstrip("/"), []))
        return seen // n if n else 0

    def _refused(self, path: str, event_id: str) -> bool:
        n = self._refuse_every.get(path)
        if not n:
            return False
        seen = self._seen_ids.setdefault(path, [])
        if event_id in seen:
            return False
        seen.append(event_id)
        return len(seen) % n == 0

    def on(self, path: str) -> list[Received]:
        path = "/" + path.lstrip("/")
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.on(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path}: {len(self.on(path))} of {count} requests in {timeout}s")

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = None
        if path in self._secrets:
            try:
                signing.verify(body, headers, self._secrets[path], now=int(time.time()))
                verified = True
            except SignatureError:
                verified = False
        with self._lock:
            queue = self._scripts.get(path)
            answer = (
                queue.pop(0) if queue else self.defaults.get(path, Script(200, body=b'{"ok":true}'))
            )
            if self._refused(path, headers.get("webhook-id", "")):
                answer = Script(500, body=b'{"error":"refused once, as the demo planned"}')
        if answer.delay:
            import asyncio

            await asyncio.sleep(answer.delay)
        with self._lock:
            self.requests.append(
                Received(path, headers, body, time.time(), answer.status, verified)
            )
        return Response(
            answer.body,
            status_code=answer.status,
            headers=answer.headers,
            media_type="application/json",
        )


def as_dict(received: Received) -> dict[str, Any]:
    return {"path": received.path, "status": received.status, "verified": received.verified}
