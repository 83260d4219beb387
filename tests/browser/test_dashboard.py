"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright).

Signs in, finds a failed delivery, replays it and sees the replay succeed (live, over SSE), sends
a test, looks at a destination's plots and runs a bulk replay with its dry-run count first. A
screenshot of every page goes to ``test-artifacts/screenshots/`` for review.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.adapters import Outcome, Verdict
from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from gateway.store import AttemptRecord, open_store
from tests.browser.harness import TIMEOUT_MS, chromium, screenshot, wait_until, watch
from tests.conftest import ADMIN_KEY, make_settings, task_data

pytestmark = pytest.mark.browser


@pytest.fixture
def gateway(tmp_path: Path, receiver: tuple[WebhookReceiver, str]) -> Iterator[dict[str, Any]]:
    """A real gateway with two destinations, some history for the plots, and failed deliveries."""
    rec, url = receiver
    settings = make_settings(f"sqlite:///{tmp_path}/gateway.db", tmp_path)
    store = open_store(settings)
    rec.script("/orders", 500, 500, 503, *(Script(200, delay=0.02 * i) for i in range(12)))
    with BackgroundServer(create_app(settings, store=store)) as server:
        api = httpx.Client(base_url=server.url, headers={"x-api-key": ADMIN_KEY}, timeout=10)
        orders = api.post(
            "/integrations/destinations",
            json={
                "tenantId": "acme",
                "name": "Orders webhook",
                "connector": "webhook",
                "url": f"{url}/orders",
                "eventTypes": ["task.completed"],
                "retrySchedule": [],
            },
        ).json()
        crm = api.post(
            "/integrations/destinations",
            json={
                "tenantId": "acme",
                "name": "CRM (Zapier)",
                "connector": "zapier",
                "url": f"{url}/crm",
                "eventTypes": ["task.completed"],
                "rateLimitPerSecond": 100,
            },
        ).json()  # Zapier's default pace would slow the test
        seed_history(store, orders["id"], success=0.93, latency_ms=180)
        seed_history(store, crm["id"], success=0.995, latency_ms=90)
        for _ in range(8):
            api.post(
                "/integrations/events",
                json={"tenantId": "acme", "type": "task.completed", "data": task_data()},
            )

        def settled() -> tuple[int, int]:
            return tuple(
                api.get("/integrations/deliveries", params={"status": s}).json()["total"]
                for s in ("failed", "succeeded")
            )  # type: ignore[return-value]

        wait_until(lambda: settled() == (3, 13), describe=settled)
        yield {"url": server.url, "orders": orders, "crm": crm, "api": api}
        api.close()
    store.engine.dispose()


def seed_history(store: Any, destination_id: str, *, success: float, latency_ms: float) -> None:
    """A day of attempts, so the success-rate and latency plots have something to show."""
    rng = random.Random(destination_id)
    now = store.clock()
    records = []
    for minute in range(0, 24 * 60, 6):
        dip = 0.35 if 14 * 60 <= minute < 15 * 60 else 0.0  # one bad hour
        ok = rng.random() < success - dip
        records.append(
            AttemptRecord(
                delivery_id=f"dlv_history{minute}",
                tenant_id="acme",
                destination_id=destination_id,
                number=1,
                started_at=now - timedelta(minutes=24 * 60 - minute),
                duration_ms=latency_ms * (0.6 + rng.random()) * (3 if dip else 1),
                request_url="http://history/",
                request_headers={},
                result=(
                    Outcome(Verdict.SUCCESS)
                    if ok
                    else Outcome(Verdict.RETRY, "HTTP 502 Bad Gateway")
                ),
                status_code=200 if ok else 502,
            )
        )
    store.record_history(records)


def test_dashboard_replay_test_send_and_bulk_replay(gateway: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    base = gateway["url"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        console = watch(page)

        def shot(name: str) -> None:
            screenshot(page, name)

        # Sign in.
        page.goto(f"{base}/dashboard")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        shot("01-sign-in")
        page.get_by_label("API key").fill("wrong-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("refused")
        page.get_by_label("API key").fill(ADMIN_KEY)
        page.get_by_role("button", name="Sign in").click()

        # Destinations: status, success rate, last error.
        expect(page.get_by_role("heading", name="Destinations")).to_be_visible()
        orders_row = page.locator(f"tr[data-id='{gateway['orders']['id']}']")
        expect(orders_row).to_contain_text("Orders webhook")
        expect(orders_row).to_contain_text("active")
        expect(orders_row).to_contain_text("%")
        expect(page.locator("#live")).to_contain_text("Live")
        shot("02-destinations")

        # The delivery log, filtered to failures; open one.
        page.get_by_role("link", name="Deliveries").click()
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Apply").click()
        failed_rows = page.locator("tbody tr[data-status='failed']")
        expect(failed_rows).to_have_count(3)
        shot("03-deliveries-failed")
        original = failed_rows.first.get_attribute("data-id")
        assert original
        failed_rows.first.get_by_role("link", name=f"Delivery {original}, failed").click()
        expect(page.locator("#delivery-status")).to_contain_text("failed")
        expect(page.get_by_role("article", name="Attempt 1")).to_contain_text("HTTP 50")
        shot("04-delivery-failed")

        # Replay it: the new delivery links to the original and succeeds (live over SSE).
        page.get_by_role("button", name="Replay").click()
        expect(page.locator("#replay-of")).to_contain_text(original)
        expect(page.locator("#delivery-status")).to_contain_text("succeeded")
        expect(page.get_by_role("article", name="Attempt 1")).to_contain_text("HTTP 200")
        replay_id = page.url.rsplit("/", 1)[1]
        body = gateway["api"].get(f"/integrations/deliveries/{replay_id}").json()
        assert body["replayOf"] == original and body["trigger"] == "replay"
        shot("05-replay-succeeded")
        page.locator("#replay-of a").click()
        expect(page.locator("#replays-list")).to_contain_text(replay_id)
        shot("06-original-with-replay")

        # Send a test from the destinations page and watch it succeed.
        page.get_by_role("link", name="Destinations").click()
        orders_row.get_by_role("button", name="Send a test to Orders webhook").click()
        page.get_by_role("link", name="View delivery").click()
        expect(page.locator("#delivery-status")).to_contain_text("succeeded")
        expect(page.locator("main")).to_contain_text("test send")
        shot("07-test-send")

        # Rotate the secret (confirm first; the new one is shown once), disable and enable.
        page.get_by_role("link", name="Destinations").click()
        orders_row.get_by_role("button", name="Rotate the secret of Orders webhook").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_label("New secret")).to_have_value(re.compile(r"^whsec_"))
        shot("08-rotated-secret")
        page.get_by_role("dialog").get_by_role("button", name="Close").click()
        orders_row.get_by_role("button", name="Disable Orders webhook").click()
        expect(orders_row).to_contain_text("disabled")
        # While disabled, an event is held for it; its page says what enabling will send.
        orders = gateway["orders"]
        held = gateway["api"].post(
            "/integrations/events",
            json={"tenantId": orders["tenantId"], "type": "task.completed", "data": task_data()},
        )
        assert held.status_code == 202, held.text
        page.goto(f"{base}/dashboard#/destinations/{orders['id']}")
        expect(page.locator("#held-note")).to_contain_text(
            re.compile(r"enabling it sends the [1-9]\d* held deliver")
        )
        page.goto(f"{base}/dashboard#/destinations")
        orders_row.get_by_role("button", name="Enable Orders webhook").click()
        expect(orders_row).to_contain_text("active")
        assert (
            gateway["api"]
            .get(f"/integrations/destinations/{gateway['orders']['id']}")
            .json()["version"]
            == 4
        )  # rotated, disabled, enabled

        # A destination's page: bars of attempts (succeeded, failed) and latency per bucket, on
        # round ticks, and the last error's text with its time.
        page.goto(f"{base}/dashboard#/destinations/{gateway['orders']['id']}")
        expect(page.get_by_role("heading", name="Attempts", exact=True)).to_be_visible()
        expect(page.locator("#chart-attempts ~ svg rect.bar.bad").first).to_be_visible()
        hourly = page.locator("#chart-latency ~ svg rect.bar.lat").count()
        assert 24 <= hourly <= 25, hourly  # a day of history in hour buckets (+ this hour's)
        assert page.locator("#chart-attempts ~ svg rect.bar.ok").count() == hourly
        expect(page.locator("#last-error")).to_contain_text("HTTP 50")
        expect(page.locator("#last-error time")).to_have_attribute("title", re.compile("UTC"))
        for chart in ("attempts", "latency"):
            ticks = page.locator(f"#chart-{chart} ~ svg .y-tick").all_text_contents()
            values = [float(t) for t in ticks]
            step = values[1] - values[0]
            assert values == [i * step for i in range(len(values))], ticks  # evenly from 0
            assert step / 10 ** len(str(int(step))[1:]) in (1, 2, 2.5, 5), ticks  # round steps
        shot("09-destination-plots")

        # Bulk replay: count first, then start and follow the job.
        page.get_by_role("link", name="Bulk replay").click()
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Count matching").click()
        expect(page.locator("#matched")).to_have_text("3")
        shot("10-bulk-replay-count")
        page.get_by_role("button", name="Replay 3 deliveries").click()
        job_row = page.locator("section tbody tr").first
        expect(job_row).to_contain_text("completed")
        expect(job_row).to_contain_text("3 / 3")
        shot("11-bulk-replay-done")

        # The live log: everything, newest first.
        page.get_by_role("link", name="Deliveries").click()
        expect(page.locator("tbody tr").first).to_contain_text("bulk replay")
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        assert download.value.suggested_filename.endswith(".csv")
        shot("12-deliveries")
    assert console.unexpected(401) == [], console.errors  # 401: the wrong key, on purpose
