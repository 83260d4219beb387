"""The dashboard's operational-events list on a destination's page, and "Erase event" behind a
confirmation (headless Chromium, Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import WebhookReceiver
from gateway.store import open_store
from tests.browser.harness import (
    CHROMIUM_ARGS,
    SHOTS,
    TIMEOUT_MS,
    chromium_path,
    wait_until,
)
from tests.conftest import ADMIN_KEY, make_settings, task_data

pytestmark = pytest.mark.browser


def test_operational_events_listed_and_an_event_erased(
    tmp_path: Path, receiver: tuple[WebhookReceiver, str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    rec, url = receiver
    rec.script("/orders", 500)
    settings = make_settings(f"sqlite:///{tmp_path}/gateway.db", tmp_path)
    store = open_store(settings)
    with BackgroundServer(create_app(settings, store=store)) as server:
        api = httpx.Client(base_url=server.url, headers={"x-api-key": ADMIN_KEY}, timeout=10)

        def destination(name: str, path: str, types: list[str]) -> dict[str, Any]:
            body = {
                "tenantId": "acme",
                "name": name,
                "connector": "webhook",
                "url": f"{url}/{path}",
                "eventTypes": types,
                "retrySchedule": [],
            }
            return dict(api.post("/integrations/destinations", json=body).json())

        orders = destination("Orders", "orders", ["task.completed"])
        destination("Ops alerts", "ops", ["gateway.*"])
        event = api.post(
            "/integrations/events",
            json={"tenantId": "acme", "type": "task.completed", "data": task_data()},
        ).json()
        [delivery_id] = event["deliveryIds"]
        wait_until(lambda: len(rec.on("/ops")) == 1)  # the exhausted notice was delivered

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.url}/dashboard")
            page.get_by_label("API key").fill(ADMIN_KEY)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Destinations")).to_be_visible()

            page.goto(f"{server.url}/dashboard#/destinations/{orders['id']}")
            items = page.locator("#ops-events li[data-type='gateway.delivery.exhausted']")
            expect(items).to_have_count(1)
            expect(items).to_contain_text("failed after 1 attempt")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "20-destination-ops-events.png"), full_page=True)

            page.goto(f"{server.url}/dashboard#/deliveries/{delivery_id}")
            expect(page.get_by_role("article", name="Attempt 1")).to_contain_text("HTTP 500")
            page.get_by_role("button", name="Erase event").click()
            dialog = page.locator("#dialog")
            expect(dialog).to_contain_text("removed for good")
            dialog.get_by_role("button", name="Cancel").click()  # nothing happens on cancel
            assert api.get(f"/integrations/events/{event['eventId']}").json()["data"]
            page.get_by_role("button", name="Erase event").click()
            dialog.get_by_role("button", name="Erase event").click()
            expect(page.locator("#toasts")).to_contain_text("Event erased.")
            shown = api.get(f"/integrations/events/{event['eventId']}").json()
            assert shown["data"] is None and shown["expunged"] is True
            assert errors == []
            browser.close()
        api.close()
    store.engine.dispose()
