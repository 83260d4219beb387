"""Fixtures shared by the API contract tests: one app per database per module, a fresh tenant
per test (paying for a database and an app start per test would cost minutes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.api.support import DATABASES, admin_client, module_database, new_tenant


@pytest.fixture(scope="module", params=DATABASES)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with (
        module_database(request, tmp_path_factory) as url,
        admin_client(url, tmp_path_factory) as client,
    ):
        yield client


@pytest.fixture
def tenant() -> str:
    return new_tenant()
