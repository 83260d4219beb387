"""What the browser tests share: Debian's Chromium under Playwright, screenshots, and a page that
records every console error and uncaught exception so a test can assert there were none."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000
# Chromium logs every 4xx answer to fetch() as a console error; a test that provokes one on
# purpose (a refused key, a 422, a 409) names its status here, and any other error still fails.
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


def chromium_path() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (.ci/run)")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); CI runs this")


@dataclass
class Console:
    """Console errors and page errors seen so far."""

    errors: list[str] = field(default_factory=list)

    def unexpected(self, *allowed_statuses: int) -> list[str]:
        out = []
        for text in self.errors:
            m = FAILED_LOAD.search(text)
            if m and int(m.group(1)) in allowed_statuses:
                continue
            out.append(text)
        return out


def watch(page: Any) -> Console:
    console = Console()
    page.on("pageerror", lambda exc: console.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: console.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    return console


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot in test-artifacts/screenshots/ (without toasts: they hide content)."""
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(check: Callable[[], Any], timeout: float = 30.0, describe: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not reached: {describe() if describe else ''}")
