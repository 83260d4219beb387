"""The dashboard configures destinations, in headless Chromium against a real gateway.

One operator's first session: a destination created in the form (a client-side JSON check, then
the API's 422 shown at the fields it names), its secret shown once and copied, its URL edited, a
stale edit answered "changed meanwhile", a test sent and its attempt opened with both bodies, the
event's page, "replay the failed ones since…", the plots, the same pages at 375 px, and the
delete. Every step leaves a screenshot in ``test-artifacts/screenshots/forms-*.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.sandbox.fakes.server import BackgroundServer
from gateway.sandbox.fakes.webhook import Script, WebhookReceiver
from gateway.store import open_store
from tests.browser.harness import TIMEOUT_MS, chromium, screenshot, wait_until, watch
from tests.conftest import ADMIN_KEY, make_settings, task_data

pytestmark = pytest.mark.browser

NARROW = {"width": 375, "height": 812}
WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def gateway(tmp_path: Path, receiver: tuple[WebhookReceiver, str]) -> Iterator[dict[str, Any]]:
    """A real gateway with no destination yet; loopback receivers are allowed (and only those)."""
    rec, url = receiver
    settings = make_settings(
        f"sqlite:///{tmp_path}/gateway.db", tmp_path, GATEWAY_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8"
    )
    store = open_store(settings)
    with BackgroundServer(create_app(settings, store=store)) as server:
        api = httpx.Client(base_url=server.url, headers={"x-api-key": ADMIN_KEY}, timeout=10)
        yield {"url": server.url, "api": api, "rec": rec, "rec_url": url}
        api.close()
    store.engine.dispose()


def no_overflow(page: Any) -> None:
    """Nothing is cut at this width: the page itself never scrolls sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: the page is {width} px wide in a {viewport} px window"


def test_configure_a_destination_in_the_form(gateway: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    api: httpx.Client = gateway["api"]
    rec: WebhookReceiver = gateway["rec"]
    rec_url = gateway["rec_url"]
    with chromium() as browser:
        context = browser.new_context(
            viewport=WIDE, permissions=["clipboard-read", "clipboard-write"]
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        console = watch(page)
        page.goto(f"{gateway['url']}/dashboard")
        page.get_by_label("API key").fill(ADMIN_KEY)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("main")).to_contain_text("No destinations yet")
        # The favicon is served (a missing one would be a console error too).
        assert (
            api.get("/dashboard/static/favicon.svg").headers["content-type"].startswith("image/svg")
        )

        # The form: a JSON mistake is caught in the browser, nothing is sent.
        page.get_by_role("link", name="New destination").click()
        expect(page.get_by_role("heading", name="New destination")).to_be_visible()
        page.get_by_label("Tenant").fill("acme")
        page.get_by_label("Name", exact=True).fill("Research webhook")
        page.get_by_label("URL", exact=True).fill("ftp://127.0.0.1/made")
        page.get_by_label("Timeout (seconds)").fill("100")
        page.get_by_label("Output schema (JSON Schema)").fill("{not json")
        page.get_by_role("button", name="Create destination").click()
        expect(page.locator("[data-path=outputSchema] .field-error")).to_contain_text(
            "not valid JSON"
        )
        assert api.get("/integrations/destinations").json()["total"] == 0

        # The API's 422: each problem next to the field it names.
        page.get_by_label("Output schema (JSON Schema)").fill(
            '{"type": "object", "required": ["id", "type", "data"]}'
        )
        page.get_by_role("button", name="Create destination").click()
        expect(page.locator("[data-path=url] .field-error")).to_contain_text("http")
        expect(page.locator("[data-path=timeoutSeconds] .field-error")).to_contain_text("60")
        expect(page.locator("[data-path=outputSchema] .field-error")).to_be_hidden()
        expect(page.get_by_label("URL", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#form-summary")).to_contain_text("2 problems")
        screenshot(page, "forms-01-create-422")

        # Fixed: created, and its secret is shown once, with a copy button that copies it.
        page.get_by_label("URL", exact=True).fill(f"{rec_url}/made")
        page.get_by_label("Timeout (seconds)").fill("10")
        page.get_by_label("Retry schedule (seconds)").fill("none")
        for name, value in [("X-Team", "research"), ("Authorization", "Bearer s3cret-value")]:
            page.get_by_role("button", name="Add a header").click()
            page.get_by_label("Header name").last.fill(name)
            page.get_by_label("Header value").last.fill(value)
        screenshot(page, "forms-02-create-filled")
        page.get_by_role("button", name="Create destination").click()
        secret_field = page.get_by_label("New secret")
        expect(secret_field).to_have_value(re.compile(r"^whsec_"))
        secret = secret_field.input_value()
        page.get_by_role("dialog").get_by_role("button", name="Copy").click()
        expect(page.get_by_role("dialog").get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        screenshot(page, "forms-03-secret-once")
        page.get_by_role("dialog").get_by_role("button", name="Close").click()
        (created,) = api.get("/integrations/destinations").json()["items"]
        assert created["url"] == f"{rec_url}/made" and created["timeoutSeconds"] == 10
        assert created["retrySchedule"] == []
        # Every header value is sealed at rest and shown redacted (CONTRACT §1).
        assert created["headers"] == {"X-Team": "[redacted]", "Authorization": "[redacted]"}
        assert created["outputSchema"] == {"type": "object", "required": ["id", "type", "data"]}
        dst_id = created["id"]
        expect(page.locator("main h1")).to_contain_text("Research webhook")
        # A destination with no attempt yet: both plots say so.
        expect(page.locator("section.chart .empty-text")).to_have_count(2)
        expect(page.locator("#last-error")).to_contain_text("none")

        # Edit its URL: only what changed is sent, with expectedVersion.
        rec.expect_secret("/edited", secret)
        page.get_by_role("link", name="Edit Research webhook").click()
        expect(page.get_by_label("URL", exact=True)).to_have_value(f"{rec_url}/made")
        page.get_by_label("URL", exact=True).fill(f"{rec_url}/edited")
        page.get_by_role("button", name="Save changes").click()
        expect(page).to_have_url(re.compile(f"#/destinations/{dst_id}$"))  # saved: its page
        expect(page.locator(".page-head .mono").first).to_have_text(f"{rec_url}/edited")
        edited = api.get(f"/integrations/destinations/{dst_id}").json()
        assert edited["version"] == 2 and edited["headers"] == created["headers"]

        # A stale edit: somebody renamed it meanwhile; the form says so and offers both ways out.
        page.get_by_role("link", name="Edit Research webhook").click()
        page.get_by_label("Timeout (seconds)").fill("12")
        api.patch(f"/integrations/destinations/{dst_id}", json={"name": "Research (renamed)"})
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#form-summary")).to_contain_text("changed meanwhile")
        expect(page.locator("#form-summary")).to_contain_text("now at version 3")
        expect(page.locator("#conflict-fields")).to_have_text("Changed meanwhile: name")
        screenshot(page, "forms-04-edit-409")
        page.get_by_role("button", name="Load the current version (discard my edits)").click()
        expect(page.get_by_label("Name", exact=True)).to_have_value("Research (renamed)")
        assert api.get(f"/integrations/destinations/{dst_id}").json()["timeoutSeconds"] == 10
        # A header added beside the [redacted] ones: those keep their stored values.
        page.get_by_role("button", name="Add a header").click()
        page.get_by_label("Header name").last.fill("X-Extra")
        page.get_by_label("Header value").last.fill("extra-1")
        page.get_by_role("button", name="Save changes").click()
        expect(page).to_have_url(re.compile(f"#/destinations/{dst_id}$"))
        assert api.get(f"/integrations/destinations/{dst_id}").json()["headers"] == {
            "X-Team": "[redacted]",
            "Authorization": "[redacted]",
            "X-Extra": "[redacted]",
        }

        # Send a test, open its attempt: the body sent and the body received, pretty-printed.
        page.get_by_role("button", name="Send a test to Research (renamed)").click()
        page.get_by_role("link", name="View delivery").click()
        expect(page.locator("#delivery-status")).to_contain_text("succeeded")
        attempt = page.get_by_role("article", name="Attempt 1")
        request = attempt.locator("section.request pre")
        expect(request).to_contain_text('"type": "task.completed"')
        expect(request).to_contain_text('"tenantId": "acme"')
        expect(attempt.locator("section.response pre")).to_contain_text('"ok": true')
        expect(attempt.locator("section.request")).to_contain_text("X-Team")
        expect(attempt.locator("section.request")).to_contain_text("[redacted]")
        expect(attempt.locator("section.request")).not_to_contain_text("s3cret-value")
        (got,) = rec.on("/edited")
        assert got.verified is True  # signed with the secret the dialog showed
        assert got.headers["authorization"] == "Bearer s3cret-value"  # kept through the edits
        assert got.headers["x-team"] == "research" and got.headers["x-extra"] == "extra-1"
        assert json.loads(got.body) == json.loads(request.inner_text())
        screenshot(page, "forms-05-attempt-bodies")

        # The event's own page lists its deliveries.
        delivery_id = page.url.rsplit("/", 1)[1]
        event_id = api.get(f"/integrations/deliveries/{delivery_id}").json()["eventId"]
        page.locator("#event-link").click()
        expect(page.get_by_role("heading", name=re.compile("^Event evt_"))).to_be_visible()
        expect(page.locator(f"#event-deliveries tr[data-id='{delivery_id}']")).to_contain_text(
            "succeeded"
        )
        expect(page.locator("main")).to_contain_text('"studyId"')
        screenshot(page, "forms-06-event")

        # A delivery that fails for good, then "replay the failed ones since…" on its page.
        rec.script("/edited", Script(500, body=b'{"error":"database is down"}'))
        api.post(
            "/integrations/events",
            json={"tenantId": "acme", "type": "task.completed", "data": task_data()},
        )
        failed = {"destinationId": dst_id, "status": "failed"}
        wait_until(lambda: api.get("/integrations/deliveries", params=failed).json()["total"] == 1)
        page.goto(f"{gateway['url']}/dashboard#/destinations/{dst_id}")
        expect(page.locator("#last-error")).to_contain_text("500")
        panel = page.locator("#replay-panel")
        panel.get_by_role("button", name="Count matching").click()
        expect(page.locator("#dr-matched")).to_have_text("1")
        screenshot(page, "forms-07-replay-count")
        panel.get_by_role("button", name="Replay 1 delivery").click()
        expect(page.locator("#replay-job")).to_contain_text("completed")
        expect(page.locator("#replay-job")).to_contain_text("1 / 1")
        replayed = {"destinationId": dst_id, "status": "succeeded", "isTest": "false"}
        wait_until(lambda: api.get("/integrations/deliveries", params=replayed).json()["total"])

        # The plots: bars per bucket, round ticks on both axes, axis labels.
        page.goto(f"{gateway['url']}/dashboard#/destinations/{dst_id}?window=1h")
        expect(page.locator("#chart-attempts ~ svg rect.bar.ok").first).to_be_visible()
        expect(page.locator("#chart-attempts ~ svg rect.bar.bad").first).to_be_visible()
        expect(page.locator("#chart-latency ~ svg rect.bar.lat").first).to_be_visible()
        expect(page.locator("#chart-latency ~ svg .axis-label").first).to_contain_text("local time")
        counts = page.locator("#chart-attempts ~ svg .y-tick").all_text_contents()
        assert counts == [str(i) for i in range(len(counts))], counts  # 0, 1, 2, …: whole numbers
        ticks = page.evaluate(
            "import('/dashboard/static/chart.js').then((m) => [m.niceTicks(188),"
            " m.niceTicks(3, 4, true), m.niceTicks(0, 4, true), m.niceTicks(1.3)])"
        )
        assert ticks == [[0, 50, 100, 150, 200], [0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 0.5, 1, 1.5]]
        screenshot(page, "forms-08-destination-1366")

        # 375 px: every page fits (wide tables scroll inside their panel), nothing cut.
        page.set_viewport_size(NARROW)
        for name, route in [
            ("destination", f"destinations/{dst_id}"),
            ("destinations", "destinations"),
            ("form", f"destinations/{dst_id}/edit"),
            ("delivery", f"deliveries/{delivery_id}"),
            ("event", f"events/{event_id}"),
            ("deliveries", "deliveries"),
            ("replays", "replays"),
        ]:
            page.goto(f"{gateway['url']}/dashboard#/{route}")
            expect(page.locator("main h1")).to_be_visible()
            page.wait_for_load_state("networkidle")
            no_overflow(page)
            screenshot(page, f"forms-09-{name}-375")
        page.set_viewport_size(WIDE)

        # Delete it (after a confirmation): gone from the list and from the API.
        page.goto(f"{gateway['url']}/dashboard#/destinations/{dst_id}")
        page.get_by_role("button", name="Delete Research (renamed)").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete destination").click()
        expect(page.get_by_role("heading", name="Destinations")).to_be_visible()
        expect(page.locator(f"tr[data-id='{dst_id}']")).to_have_count(0)
        assert api.get(f"/integrations/destinations/{dst_id}").status_code == 404
        context.close()
    assert console.unexpected(422, 409) == [], console.errors


def test_connector_fields_credentials_and_options(gateway: dict[str, Any]) -> None:
    """Each connector's own fields: credentials are sent only when typed (never shown again),
    options come back prefilled, n8n's auth pairs are checked in the browser, Ed25519 shows the
    public key beside the secret."""
    from playwright.sync_api import expect

    api: httpx.Client = gateway["api"]
    rec_url = gateway["rec_url"]
    questions = {"q1": {"qid": "QID2", "kind": "single", "recodes": {"yes": 1, "no": 2}}}
    with chromium() as browser:
        page = browser.new_page(viewport=WIDE)
        page.set_default_timeout(TIMEOUT_MS)
        console = watch(page)
        page.goto(f"{gateway['url']}/dashboard#/destinations/new")
        page.get_by_label("API key").fill(ADMIN_KEY)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{gateway['url']}/dashboard#/destinations/new")
        expect(page.get_by_role("heading", name="New destination")).to_be_visible()

        # n8n: half an auth pair is caught before anything is sent.
        page.get_by_label("Tenant").fill("acme")
        page.get_by_label("Connector").select_option("n8n")
        expect(page.locator("[data-path=connector] .help")).to_contain_text("n8n Webhook node")
        page.get_by_label("URL", exact=True).fill(f"{rec_url}/webhook/abc")
        page.get_by_label("Header Auth: header name").fill("X-N8N-Auth")
        page.get_by_role("button", name="Create destination").click()
        expect(page.locator("[data-path='credentials.headerValue'] .field-error")).to_contain_text(
            "needs both"
        )
        assert api.get("/integrations/destinations").json()["total"] == 0

        # Qualtrics, signed with Ed25519: token, survey and questions; the public key is shown.
        page.get_by_label("Connector").select_option("qualtrics")
        expect(page.get_by_label("Header Auth: header name")).to_have_count(0)
        page.get_by_label("Name", exact=True).fill("Survey mirror")
        page.get_by_label("URL", exact=True).fill(rec_url)
        page.get_by_label("API token").fill("qualtrics-token-123")
        page.get_by_label("Survey id").fill("SV_abc123")
        page.get_by_label("Questions (JSON)").fill(json.dumps(questions))
        page.get_by_label("Signing").select_option("ed25519")
        screenshot(page, "forms-10-qualtrics")
        page.get_by_role("button", name="Create destination").click()
        expect(page.get_by_role("textbox", name="Public key")).to_have_value(re.compile(r"^whpk_"))
        expect(page.get_by_role("dialog")).to_contain_text("not secret")
        page.get_by_role("dialog").get_by_role("button", name="Close").click()
        (listed,) = api.get("/integrations/destinations").json()["items"]
        dst = api.get(f"/integrations/destinations/{listed['id']}").json()
        assert dst["connector"] == "qualtrics" and dst["signing"] == "ed25519"
        (public_key,) = dst["publicKeys"]
        expect(page.locator("main")).to_contain_text(public_key)  # on its page too
        assert dst["hasCredentials"] is True and "credentials" not in dst
        assert dst["options"] == {"surveyId": "SV_abc123", "questions": questions}

        # Edit: options are prefilled, the stored token is not; leaving it empty keeps it.
        page.get_by_role("link", name="Edit Survey mirror").click()
        expect(page.get_by_label("Survey id")).to_have_value("SV_abc123")
        expect(page.get_by_label("API token")).to_have_value("")
        expect(page.locator("main")).to_contain_text("Credentials are stored")
        page.get_by_label("Survey id").fill("SV_def456")
        page.get_by_role("button", name="Save changes").click()
        expect(page).to_have_url(re.compile(f"#/destinations/{dst['id']}$"))  # saved: its page
        expect(page.locator("main")).to_contain_text("SV_def456")
        edited = api.get(f"/integrations/destinations/{dst['id']}").json()
        assert edited["options"] == {"surveyId": "SV_def456", "questions": questions}
        assert edited["hasCredentials"] is True and edited["version"] == 2

        # The circuit breaker's badge shows while it is open or half-open, nothing while closed.
        expect(page.locator("[data-circuit]")).to_have_count(0)

        def with_circuit(route: Any) -> None:
            answer = route.fetch()
            route.fulfill(response=answer, json={**answer.json(), "circuit": "open"})

        page.route("**/integrations/destinations/dst_*", with_circuit)
        page.reload()
        expect(page.locator(".page-head [data-circuit=open]")).to_have_text("circuit open")
        expect(page.locator("[data-circuit=open]")).to_have_attribute("title", re.compile("probed"))
        context_errors = console.unexpected()
    assert context_errors == [], console.errors
