"""Faults on request, for tests: the next N requests to ``/tasks*`` fail in a chosen way.

``POST /_faults {"mode", "count", "retryAfter", "retryAfterHttpDate", "delaySeconds"}`` arms one
fault (replacing any armed one); ``DELETE /_faults`` clears it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import formatdate
from enum import StrEnum
from typing import Any

from starlette.responses import JSONResponse, Response

FAULT_PATH_PREFIX = "/tasks"


class FaultMode(StrEnum):
    ERROR500 = "error500"  # answer 500 {"error": ...}
    THROTTLE429 = "throttle429"  # answer 429 with Retry-After (seconds, or an HTTP-date)
    SLOW = "slow"  # wait delaySeconds, then answer normally


@dataclass
class Fault:
    mode: FaultMode
    remaining: int
    retry_after_seconds: int = 1
    retry_after_http_date: bool = False
    delay_seconds: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "remaining": self.remaining,
            "retryAfter": self.retry_after_seconds,
            "retryAfterHttpDate": self.retry_after_http_date,
            "delaySeconds": self.delay_seconds,
        }


def parse_fault(body: dict[str, Any]) -> Fault:
    """A ``Fault`` from a ``POST /_faults`` body; ValueError names what is wrong."""
    try:
        mode = FaultMode(str(body.get("mode")))
    except ValueError as exc:
        raise ValueError(f"mode must be one of {[m.value for m in FaultMode]}") from exc
    count = body.get("count", 1)
    retry_after = body.get("retryAfter", 1)
    delay = body.get("delaySeconds", 1.0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError("count must be a non-negative integer")
    if not isinstance(retry_after, int | float) or retry_after < 0:
        raise ValueError("retryAfter must be a non-negative number of seconds")
    if not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise ValueError("delaySeconds must be between 0 and 60")
    return Fault(
        mode, count, int(retry_after), bool(body.get("retryAfterHttpDate", False)), float(delay)
    )


class FaultInjector:
    """Holds the armed fault; ``take`` consumes one use of it for a matching path."""

    def __init__(self) -> None:
        self.fault: Fault | None = None

    def take(self, path: str) -> Fault | None:
        fault = self.fault
        if fault is None or fault.remaining <= 0 or not path.startswith(FAULT_PATH_PREFIX):
            return None
        fault.remaining -= 1
        return fault

    async def apply(self, path: str, now: float) -> Response | None:
        """The failure response to send instead, or None to answer normally (after any delay).

        ``now`` (Unix seconds) dates an HTTP-date ``Retry-After``.
        """
        fault = self.take(path)
        if fault is None:
            return None
        if fault.mode is FaultMode.SLOW:
            await asyncio.sleep(fault.delay_seconds)
            return None
        if fault.mode is FaultMode.ERROR500:
            return JSONResponse({"error": "simulated internal error"}, status_code=500)
        retry_after = (
            formatdate(now + fault.retry_after_seconds, usegmt=True)
            if fault.retry_after_http_date
            else str(fault.retry_after_seconds)
        )
        return JSONResponse(
            {"error": "rate limit exceeded"}, status_code=429, headers={"Retry-After": retry_after}
        )
