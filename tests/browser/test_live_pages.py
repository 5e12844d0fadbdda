"""Live pages in a real browser: two responders in two browser contexts on one
incident; what one adds appears on the other's page without a reload, over the
event stream (Redis) and over polling (the embedded default). Waits are on the DOM
(``wait_for_selector``), never on a fixed sleep."""

import os
from pathlib import Path

import pytest

from incidents import services
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
# Set to a directory (docs/screenshots) to keep the page's screenshots (1366 and 375 px).
SCREENSHOTS = os.environ.get("KEEL_SCREENSHOT_DIR", "")
# Long enough for a slow shared machine; the event itself is what is waited for.
WAIT_MS = 15_000


@pytest.fixture
def rows(transactional_db):
    """Rows are written before the browser starts (see test_incident_flow.py)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    UserFactory(username="sam", first_name="Sam", last_name="Lee", role="responder")
    ServiceFactory(name="Checkout", slug="checkout")
    return services.incident_declare(
        title="Checkout returns 500 for card payments",
        summary="Card payments fail after the 14:02 deploy.",
        severity=severity("SEV2"),
        actor=rita,
    )


@pytest.fixture
def live_settings(settings):
    # Short heartbeats: a stream whose tab closed ends within a second or two, so the
    # live server's threads are free when the test database is flushed.
    settings.KEEL_LIVE_HEARTBEAT_SECONDS = 1
    settings.KEEL_LIVE_POLL_SECONDS = 1
    return settings


def signed_in(browser, base_url: str, username: str, *, width: int = 1366):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base_url}/incidents/")
    return context, page, errors


@pytest.mark.parametrize("streams", [True, False], ids=["event-stream", "polling"])
def test_a_note_added_by_one_responder_appears_on_the_others_page(
    live_server, rows, browser, live_settings, streams
):
    live_settings.KEEL_LIVE_STREAMS = streams
    mode = "stream" if streams else "poll"
    incident_url = f"{live_server.url}/incidents/{rows.pk}/"

    rita_context, rita, rita_errors = signed_in(browser, live_server.url, "rita")
    rita.goto(incident_url)
    rita.wait_for_selector(f"[data-live][data-live-mode={mode}]", state="attached")
    rita.evaluate("window.keelNoReload = true")
    # Rita starts a note of her own: the live swap must not take her text away.
    rita.fill("#id_note-text", "Draft: checking the payment provider")

    sam_context, sam, sam_errors = signed_in(browser, live_server.url, "sam")
    sam.goto(incident_url)
    sam.wait_for_selector(f"[data-live][data-live-mode={mode}]", state="attached")

    # Presence: each sees the other.
    rita.wait_for_selector(
        "[data-live-presence]:not([hidden]) [data-live-here]:text-is('Sam Lee')", timeout=WAIT_MS
    )
    sam.wait_for_selector(
        "[data-live-presence]:not([hidden]) [data-live-here]:text-is('Rita Reyes')",
        timeout=WAIT_MS,
    )

    sam.fill("#id_note-text", "Rolled back to 1.41; card payments recover.")
    sam.click("#note-form button[type=submit]")
    sam.wait_for_selector(".event-note:has-text('Rolled back to 1.41')")

    rita.wait_for_selector(".event-note:has-text('Rolled back to 1.41')", timeout=WAIT_MS)
    assert rita.evaluate("window.keelNoReload") is True
    assert rita.input_value("#id_note-text") == "Draft: checking the payment provider"

    # Sam moves the stage: Rita's stepper follows.
    sam.select_option("#id_move-stage", "propagate")
    sam.click("#move-form button[type=submit]")
    rita.wait_for_selector(".step[data-stage=propagate][data-state=current]", timeout=WAIT_MS)
    assert rita.evaluate("window.keelNoReload") is True

    # Rita's draft kept its card, but the move form beside it follows the new stage.
    rita.wait_for_selector("#id_move-stage:not(:has(option[value=propagate]))", state="attached")

    if streams and SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        rita.fill("#id_note-text", "")
        rita.evaluate("document.activeElement.blur()")
        for width in (1366, 375):
            rita.set_viewport_size({"width": width, "height": 900})
            rita.evaluate("window.scrollTo(0, 0)")
            box = rita.locator("section[aria-labelledby=timeline-heading]").bounding_box()
            rita.screenshot(
                path=str(Path(SCREENSHOTS) / f"live-incident-{width}.png"),
                full_page=True,
                clip={"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 16},
            )

    sam_context.close()
    # Sam left: his stream closed, and Rita's presence line empties.
    if streams:
        rita.wait_for_selector("[data-live-presence][hidden]", state="attached", timeout=WAIT_MS)
    rita_context.close()
    assert rita_errors == [] and sam_errors == []


def test_the_list_picks_up_a_newly_declared_incident(live_server, rows, browser, live_settings):
    rita_context, rita, _ = signed_in(browser, live_server.url, "rita")
    rita.wait_for_selector("[data-live][data-live-mode=stream]", state="attached")
    rita.evaluate("window.keelNoReload = true")
    assert rita.locator("#incident-results tbody tr").count() == 1

    sam_context, sam, _ = signed_in(browser, live_server.url, "sam")
    sam.goto(f"{live_server.url}/incidents/new/")
    sam.fill("#id_title", "Search is slow for EU customers")
    sev3 = sam.locator("#id_severity option", has_text="SEV3").get_attribute("value")
    sam.select_option("#id_severity", sev3)
    sam.select_option("#id_services", label="Checkout")
    sam.click("#declare-form button[type=submit]")
    sam.wait_for_selector(".stepper")

    rita.wait_for_selector(
        "#incident-results a:has-text('Search is slow for EU customers')", timeout=WAIT_MS
    )
    assert rita.locator("#incident-results tbody tr").count() == 2
    assert rita.evaluate("window.keelNoReload") is True
    sam_context.close()
    rita_context.close()


def test_a_private_incident_never_reaches_an_outsiders_list(
    live_server, rows, browser, live_settings
):
    """Sam declares a private incident; Rita (not a participant) has the list open:
    it refreshes for a public one declared after it, and the private one is not there."""
    rita_context, rita, _ = signed_in(browser, live_server.url, "rita")
    rita.wait_for_selector("[data-live][data-live-mode=stream]", state="attached")
    sam_context, sam, _ = signed_in(browser, live_server.url, "sam")
    for title, private in (("Leaked API keys", True), ("Search is slow", False)):
        sam.goto(f"{live_server.url}/incidents/new/")
        sam.fill("#id_title", title)
        sev3 = sam.locator("#id_severity option", has_text="SEV3").get_attribute("value")
        sam.select_option("#id_severity", sev3)
        if private:
            sam.check("#id_private")
        sam.click("#declare-form button[type=submit]")
        sam.wait_for_selector(".stepper")

    rita.wait_for_selector("#incident-results a:has-text('Search is slow')", timeout=WAIT_MS)
    assert rita.locator("#incident-results a:has-text('Leaked API keys')").count() == 0
    sam_context.close()
    rita_context.close()
