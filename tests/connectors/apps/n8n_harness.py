"""Build the n8n node package and run a real n8n 2.8.4 on loopback, for ``test_n8n_app.py``.

Both live outside the checkout, in ``${PERSON_GATEWAY_CACHE:-/var/cache/person-gateway}``:
``n8n-2.8.4/`` is installed by ``.ci/install-n8n`` (5-10 minutes, once), ``n8n-node-build/`` holds
a copy of ``connectors/n8n/app`` with its ``node_modules``, so ``npm install`` is quick after the
first run. The built ``dist/`` is copied somewhere with no ``node_modules`` above it before n8n
loads it: the package must run on node's built-ins alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "connectors" / "n8n" / "app"
N8N_VERSION = "2.8.4"
NPM_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 120  # measured ~10 s on 2 cores; the first start also migrates
STOP_TIMEOUT_SECONDS = 30
OWNER = {
    "email": "owner@example.com",
    "firstName": "Test",
    "lastName": "Owner",
    "password": "Test-Passw0rd",
}


def cache_dir() -> Path:
    return Path(os.environ.get("PERSON_GATEWAY_CACHE") or "/var/cache/person-gateway")


def n8n_bin() -> Path:
    return cache_dir() / f"n8n-{N8N_VERSION}" / "node_modules" / ".bin" / "n8n"


def n8n_installed() -> bool:
    """``.ci/install-n8n`` writes ``.installed`` only after npm succeeded."""
    return (cache_dir() / f"n8n-{N8N_VERSION}" / ".installed").is_file() and n8n_bin().exists()


def require(ok: bool, reason: str) -> None:
    """Skip when something is missing locally; in CI it must be there, so fail."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs these tests: .ci/run installs it)")
    pytest.skip(reason)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time in the shared build folder (parallel test runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


@dataclass(frozen=True)
class Package:
    """The built package: its ``dist/`` (copied where no node_modules is above it), the tarball
    ``npm pack`` made and the paths in it."""

    dist: Path
    tarball: Path
    files: list[str]


def build_package(dest: Path) -> Package:
    """``npm install && npm run build && npm pack`` a copy of ``connectors/n8n/app``."""
    work = cache_dir() / "n8n-node-build"
    with _locked(cache_dir() / "n8n-node-build.lock"):
        work.mkdir(parents=True, exist_ok=True)
        for child in work.iterdir():  # a file removed from the app must not linger
            if child.name in ("node_modules", "package-lock.json"):
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        shutil.copytree(
            APP,
            work,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("node_modules", "dist", "package-lock.json", "*.tgz"),
        )
        _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], work)
        _run(["npm", "run", "build"], work)
        pack = ["npm", "pack", "--json", "--loglevel=error", "--pack-destination", str(dest)]
        [packed] = json.loads(_run(pack, work))
        shutil.copytree(work / "dist", dest / "dist")
    return Package(
        dest / "dist", dest / packed["filename"], sorted(f["path"] for f in packed["files"])
    )


def install_package(tarball: Path, home: Path) -> None:
    """What a self-hosted user does with the tarball: ``npm install`` it in ``~/.n8n/nodes``,
    where n8n loads ``n8n-nodes-*`` packages by their ``n8n`` manifest field."""
    nodes = home / ".n8n" / "nodes"
    nodes.mkdir(parents=True, exist_ok=True)
    (nodes / "package.json").write_text('{"name": "installed-nodes", "private": true}\n')
    # No dependencies to fetch; --legacy-peer-deps: n8n itself provides n8n-workflow.
    _run(["npm", "install", "--no-audit", "--no-fund", "--legacy-peer-deps", str(tarball)], nodes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class N8n:
    """``n8n start`` on 127.0.0.1, with our ``dist/`` as a custom extension folder if given.

    Everything that would reach the internet is off (telemetry, version checks, templates,
    community-package lookups, license renewal), and a proxy on a closed loopback port catches
    any request that would leave the machine anyway.
    """

    def __init__(self, home: Path, extensions: Path | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log = home / "n8n.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "N8N_USER_FOLDER": str(home),
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_HOST": "127.0.0.1",
            "N8N_PROTOCOL": "http",
            "WEBHOOK_URL": f"{self.url}/",
            "N8N_RUNNERS_BROKER_PORT": str(free_port()),
            "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_SECURE_COOKIE": "false",  # plain http on loopback
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_COMMUNITY_PACKAGES_ENABLED": "false",
            "N8N_LICENSE_AUTO_RENEW_ENABLED": "false",
            "N8N_LICENSE_SERVER_URL": "http://127.0.0.1:9/",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "N8N_LOG_LEVEL": "info",
            "DB_SQLITE_POOL_SIZE": "2",
        }
        if extensions is not None:
            self.env["N8N_CUSTOM_EXTENSIONS"] = str(extensions)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> N8n:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(n8n_bin()), "start"],
                env=self.env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its task runner child goes with it on stop()
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"n8n exited ({self.proc.returncode}):\n{self.log_tail()}")
            if self._answers("/healthz/readiness") and self._answers("/rest/settings"):
                return self
            time.sleep(0.25)
        raise AssertionError(f"n8n not ready in {START_TIMEOUT_SECONDS} s:\n{self.log_tail()}")

    def _answers(self, path: str) -> bool:
        """Readiness (database, migrations) comes a moment before the REST routes are mounted."""
        try:
            return httpx.get(f"{self.url}{path}", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def owner_session(self) -> httpx.Client:
        """The instance owner's REST session (``/rest``: the editor's own API)."""
        rest = httpx.Client(base_url=f"{self.url}/rest", timeout=30)
        answer = rest.post("/owner/setup", json=OWNER)
        assert answer.status_code == 200, answer.text
        return rest

    def public_api(self, rest: httpx.Client) -> httpx.Client:
        """A client of n8n's public API (``/api/v1``) with an API key holding every scope."""
        scopes = rest.get("/api-keys/scopes").json()["data"]
        answer = rest.post("/api-keys", json={"label": "test", "scopes": scopes, "expiresAt": None})
        assert answer.status_code == 200, answer.text
        key = answer.json()["data"]["rawApiKey"]
        return httpx.Client(
            base_url=f"{self.url}/api/v1", headers={"X-N8N-API-KEY": key}, timeout=30
        )


def wait_for(probe: Any, what: str, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll ``probe()`` until it returns something truthy, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
