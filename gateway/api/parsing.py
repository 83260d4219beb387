"""Reading a request: the JSON body (checked against ``gateway.payload``'s rules, then a pydantic
model) and the query parameters (integers, booleans, ISO 8601 times, paging). Every failure is a
``ValidationError`` (422) naming the failing path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request

from gateway import payload
from gateway.errors import ValidationError

M = TypeVar("M", bound=BaseModel)


def load_json(raw: bytes) -> Any:
    """The parsed body, not yet checked (``payload.Unusable`` markers inside): for a batch route,
    which checks each item on its own. Bytes that are not JSON at all answer 422."""
    try:
        return payload.load(raw)
    except payload.NotJson as exc:
        raise ValidationError(
            "body is not valid JSON", details=[{"path": "", "message": str(exc)}]
        ) from None


def checked(value: Any, path: str = "", depth: int = 1) -> Any:
    """``value`` if it meets the JSON rules of ``gateway.payload``; 422 naming each path if not."""
    problems = payload.check(value, path, depth)
    if problems:
        first = problems[0]
        raise ValidationError(
            f"unusable JSON at {first['path'] or 'the top level'}: {first['message']}",
            details=problems,
        )
    return value


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """Every JSON route's body reader: parsed and checked (depth, 64-bit integers, finite
    numbers, valid Unicode); ``empty`` when there is no body. The body's size is already bounded
    by ``RequestLimits``."""
    raw = await request.body()
    if not raw:
        return empty
    return checked(load_json(raw))


async def parse_body(request: Request, model: type[M]) -> M:
    return validate(model, await read_json(request, empty={}))


def validate(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        raise ValidationError(
            "invalid request body",
            details=[
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ],
        ) from exc


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name} must be an integer", details=[{"path": name, "message": "integer"}]
        ) from exc
    if not low <= value <= high:
        raise ValidationError(
            f"{name} must be between {low} and {high}",
            details=[{"path": name, "message": f"{low}..{high}"}],
        )
    return value


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ValidationError(
        f"{name} must be true or false", details=[{"path": name, "message": "bool"}]
    )


def query_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    return parse_time(raw, name)


def parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # OverflowError at the ends of the calendar
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{name} must be an ISO 8601 time", details=[{"path": name, "message": "ISO 8601"}]
        ) from exc


def paging(request: Request) -> tuple[int, int]:
    return (query_int(request, "page", 1, 1, 1000), query_int(request, "pageSize", 10, 1, 100))
