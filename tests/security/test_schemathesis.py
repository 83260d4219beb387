"""Schemathesis on the operator surface's own spec (``/integrations/openapi.json``), in process.

Every operation gets generated requests, valid and invalid (wrong types, missing fields, odd
strings, huge numbers), sent with an admin key; no answer may be a 5xx. The run is bounded by
``EXAMPLES`` per operation, on SQLite and on PostgreSQL (about 100 s together on a shared core).

Nothing leaves the machine: the app runs without its worker (nothing is sent), and name
resolution answers only for loopback, so a generated destination host is refused, never looked up.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.python import asgi

from gateway.api.openapi import build_document
from gateway.app import create_app
from tests.api.support import DATABASES, module_database
from tests.conftest import ADMIN_KEY, make_settings

EXAMPLES = 100  # per operation
STATS: dict[str, int] = {"cases": 0, "max_status": 0}

_real_getaddrinfo = socket.getaddrinfo


def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host in ("localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"):
        return _real_getaddrinfo(host, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "tests resolve loopback only")


# The document is built by the same pure function that serves it; the app is attached below.
# The SSE stream answers 200 and then stays open by design (nothing for a generated client to cut
# short); its parameters and tenancy are tested in tests/api/test_stream.py.
schema = schemathesis.openapi.from_dict(build_document()).exclude(path="/integrations/stream")


@pytest.fixture(scope="module", autouse=True, params=DATABASES)
def app_under_test(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The app on each database in turn (PostgreSQL refuses what SQLite stores, such as NUL)."""
    with module_database(request, tmp_path_factory) as url:
        yield from _serve(url, tmp_path_factory.mktemp("schemathesis"))


def _serve(url: str, tmp: Any) -> Iterator[None]:
    settings = make_settings(url, tmp)
    schema.app = create_app(settings, run_worker=False, run_scheduler=False)
    mp = pytest.MonkeyPatch()
    mp.setattr(socket, "getaddrinfo", loopback_only)
    started = time.monotonic()
    try:
        yield
    finally:
        asgi.shutdown_lifespans()  # schemathesis started the app's lifespan on first call
        mp.undo()
        print(
            f"\nschemathesis ({url.split(':')[0]}): {STATS['cases']} cases in "
            f"{time.monotonic() - started:.0f} s, highest status {STATS['max_status']}"
        )
        STATS.update(cases=0, max_status=0)


def test_the_spec_is_the_one_served() -> None:
    from starlette.testclient import TestClient

    with TestClient(schema.app, headers={"x-api-key": ADMIN_KEY}) as client:
        assert client.get("/integrations/openapi.json").json() == build_document()


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here reproduces
    database=None,  # no .hypothesis directory left in the checkout
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_generated_request_answers_5xx(case: Any) -> None:
    # ``app=``: in process, through schemathesis' ASGI transport (never a network client).
    response = case.call(app=schema.app, headers={"x-api-key": ADMIN_KEY})
    STATS["cases"] += 1
    STATS["max_status"] = max(STATS["max_status"], response.status_code)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
        f" -> {response.status_code} {response.text[:300]}"
    )
