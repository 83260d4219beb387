"""A small evaluator of the Make IML our app uses, to run its specs against a real gateway.

No Make runtime runs here, so this does what Make does with the parts of IML the app needs:

- ``{{connection.x}}``, ``{{parameters.x}}``, ``{{webhook.x}}``, ``{{body.x}}``, ``{{statusCode}}``:
  dotted paths into the context; a string that is one whole ``{{…}}`` keeps the value's type
  (``{{body}}`` is the object), one with text around it interpolates (``null`` as empty);
- a request spec (``url``, ``method``, ``headers``, ``body``) merged with the base (its
  ``baseUrl`` before a relative ``url``, its headers under the spec's), sent as JSON;
- ``response.error`` (by status code, else the general one) raised as ``MakeError``; ``data``,
  ``metadata`` and ``output`` evaluated with the response ``body``.

Anything else in a ``{{…}}`` (functions, operators) raises: a template this evaluator does not
understand must fail the test, not pass it by accident.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

CONTEXT_ROOTS = {"connection", "parameters", "webhook", "body", "statusCode"}
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*")


class MakeError(Exception):
    """What Make shows for a failed request: the error type and the evaluated message."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.status = status


def lookup(path: str, context: dict[str, Any]) -> Any:
    expression = path.strip()
    if not _PATH.fullmatch(expression) or expression.split(".")[0] not in CONTEXT_ROOTS:
        raise ValueError(f"IML this evaluator does not support: {{{{{path}}}}}")
    value: Any = context
    for part in expression.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def render(template: Any, context: dict[str, Any]) -> Any:
    """The template with every ``{{…}}`` evaluated, recursively through objects and arrays."""
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context) for value in template]
    if not isinstance(template, str):
        return template
    whole = _EXPRESSION.fullmatch(template)
    if whole:
        return lookup(whole.group(1), context)

    def text(match: re.Match[str]) -> str:
        value = lookup(match.group(1), context)
        return "" if value is None else value if isinstance(value, str) else json.dumps(value)

    return _EXPRESSION.sub(text, template)


@dataclass
class Result:
    status: int
    body: Any
    data: dict[str, Any] = field(default_factory=dict)
    metadata: Any = None
    output: Any = None


def call(
    spec: dict[str, Any],
    context: dict[str, Any],
    *,
    base: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> Result:
    """Send one request spec as Make would, merged with ``base`` (a module's or RPC's)."""
    base = base or {}
    request = render({k: v for k, v in spec.items() if k not in {"response", "log"}}, context)
    url = str(request["url"])
    if url.startswith("/"):
        url = str(render(base["baseUrl"], context)) + url
    headers = {**render(base.get("headers", {}), context), **request.get("headers", {})}
    method = str(request.get("method", "GET"))
    body = request.get("body")
    response = httpx.request(
        method, url, headers=headers, json=body if body is not None else None, timeout=timeout
    )
    try:
        parsed: Any = response.json() if response.content else None
    except ValueError:
        parsed = response.text
    evaluated = {**context, "body": parsed, "statusCode": response.status_code}
    directives = {**base.get("response", {}), **spec.get("response", {})}
    if response.status_code >= 400:
        raise _error(directives.get("error"), evaluated, response.status_code)
    return Result(
        status=response.status_code,
        body=parsed,
        data=render(directives.get("data", {}), evaluated),
        metadata=render(directives.get("metadata"), evaluated),
        output=render(directives.get("output"), evaluated),
    )


def _error(spec: Any, context: dict[str, Any], status: int) -> MakeError:
    if spec is None:
        return MakeError("RuntimeError", f"status {status}", status)
    if isinstance(spec, str):
        return MakeError("RuntimeError", str(render(spec, context)), status)
    chosen = spec.get(str(status), spec)
    return MakeError(
        str(chosen.get("type", "RuntimeError")), str(render(chosen["message"], context)), status
    )
