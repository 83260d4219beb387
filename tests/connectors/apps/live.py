"""What the platform-app tests share: a real gateway on loopback, a tenant key, and the Zapier
app's Node modules (installed outside the checkout by ``.ci/install-zapier``)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from tests.conftest import ADMIN_KEY, make_settings

ROOT = Path(__file__).resolve().parents[3]
ZAPIER_APP = ROOT / "connectors" / "zapier" / "app"
MAKE_APP = ROOT / "connectors" / "make" / "app"
DEFAULT_CACHE = "/var/cache/person-gateway"


@dataclass
class Gateway:
    """A running gateway: its base URL, a tenant's key and an admin client."""

    url: str
    tenant_id: str
    tenant_key: str
    admin: httpx.Client

    def tenant(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": self.tenant_key}, timeout=10)

    def push(self, event_type: str, data: dict[str, Any]) -> str:
        """An event pushed through intake (``POST /integrations/events``); its id."""
        r = self.admin.post(
            "/integrations/events",
            json={"tenantId": self.tenant_id, "type": event_type, "data": data},
        )
        assert r.status_code == 202, r.text
        return str(r.json()["eventId"])


@contextmanager
def running_gateway(tmp_path: Path, tenant_id: str = "acme") -> Iterator[Gateway]:
    """The gateway (API, worker, scheduler) on 127.0.0.1, allowed to deliver to 127.0.0.1 only."""
    settings = make_settings(
        f"sqlite:///{tmp_path}/gateway.db", tmp_path, GATEWAY_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32"
    )
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, headers={"x-api-key": ADMIN_KEY}, timeout=10) as admin,
    ):
        r = admin.post("/integrations/keys", json={"tenantId": tenant_id, "name": "platform app"})
        assert r.status_code == 201, r.text
        yield Gateway(server.url, tenant_id, str(r.json()["key"]), admin)


@contextmanager
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A loopback receiver standing in for the platform's hook URL."""
    rec = WebhookReceiver()
    with BackgroundServer(rec.app) as server:
        yield rec, server.url


def zapier_modules_key() -> str:
    """The cache key ``.ci/install-zapier`` uses: sha256 of package.json NUL package-lock.json."""
    digest = hashlib.sha256()
    digest.update((ZAPIER_APP / "package.json").read_bytes())
    digest.update(b"\0")
    digest.update((ZAPIER_APP / "package-lock.json").read_bytes())
    return digest.hexdigest()[:16]


def zapier_node_modules() -> Path:
    """The installed modules; skips locally when missing, fails in CI (``CI=true``)."""
    cache = Path(os.environ.get("PERSON_GATEWAY_CACHE") or DEFAULT_CACHE)
    modules = cache / "zapier-app" / zapier_modules_key() / "node_modules"
    problem = None
    if shutil.which("node") is None:
        problem = "node is not on PATH"
    elif not (modules / "zapier-platform-core" / "package.json").is_file():
        problem = f"Zapier app modules missing at {modules} (run .ci/install-zapier)"
    if problem is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{problem}; CI must run the Zapier app's tests")
        pytest.skip(problem)
    return modules
