"""The composer in a real browser: a responder picks two components by name, sets
their statuses, previews what the public page and each audience will get, posts,
and a real worker publishes the status page, which then shows them."""

import json
import os
from pathlib import Path

import pytest

from incidents import services as incident_services
from tests.factories.incidents import UserFactory, severity
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory
from tests.integration.conftest import (  # noqa: F401 (fixtures used by name)
    fake_slack_server,
    integration_services,
    start_worker,
    wait_for,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "keel-test-pass"
# Set to a directory to keep the composer's screenshots (1366 and 375 px wide).
SCREENSHOTS = os.environ.get("KEEL_SCREENSHOT_DIR", "")


@pytest.fixture
def incident(transactional_db, tmp_path, settings):
    """Written before the browser starts (see test_incident_flow.py for why)."""
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "data" / "statuspage"
    rita = UserFactory(username="rita", role="responder")
    store = ComponentGroupFactory(name="Store", position=1)
    ComponentFactory(slug="store-checkout", name="Checkout", group=store, position=1)
    ComponentFactory(slug="store-search", name="Search", group=store, position=2)
    ComponentFactory(slug="public-api", name="Public API", position=3)
    return incident_services.incident_declare(
        title="Card payments fail", severity=severity("SEV2"), actor=rita
    )


def _components(page, live_server) -> dict:
    response = page.request.get(f"{live_server.url}/api/v2/components.json")
    return {c["name"]: c["status"] for c in json.loads(response.body())["components"]}


def _shoot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.locator("section.composer").screenshot(path=f"{SCREENSHOTS}/{name}.png")


def test_pick_two_components_by_name_preview_post_and_the_page_shows_them(
    live_server,
    incident,
    browser,
    start_worker,  # noqa: F811 (the fixture imported above)
):
    start_worker()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    page.goto(f"{live_server.url}/incidents/{incident.pk}/communications/")
    page.fill("#id_message", "Some card payments fail at checkout. We are on it.")
    page.check("#audience-public")
    page.select_option("#id_public_status", "investigating")
    assert page.is_checked("#audience-cs")  # routed for public updates: ticked with it
    page.fill("#id_public_title", "Card payments failing")
    page.get_by_label("Checkout", exact=True).select_option(label="Partial outage")
    page.get_by_label("Search", exact=True).select_option(label="Degraded performance")
    impact = page.locator("#id_public_impact option[data-auto-impact]")
    assert impact.inner_text() == "From the components: Major"

    page.click("#update-form button[name=preview]")
    block = page.wait_for_selector("[data-preview-page] .status-preview")
    text = block.inner_text()
    assert "Card payments failing" in text and "Major impact" in text
    assert "Affected components: Checkout, Search" in text
    assert "Some card payments fail at checkout." in text
    changes = page.locator("[data-preview-components]").inner_text()
    assert "Checkout: Operational → Partial outage" in changes
    assert "Search: Operational → Degraded performance" in changes
    # The typed form is kept while previewing.
    assert page.input_value("#id_public_title") == "Card payments failing"
    _shoot(page, "composer-1366")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") == 375
    _shoot(page, "composer-375")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.click("#update-form button.button-primary")
    notice = page.wait_for_selector("[data-notice]").inner_text()
    assert notice.startswith("Update posted to") and "Public" in notice

    wait_for(
        lambda: (
            _components(page, live_server)
            == {
                "Store": "partial_outage",
                "Checkout": "partial_outage",
                "Search": "degraded_performance",
                "Public API": "operational",
            }
        ),
        timeout=60,
        what="the worker to publish the update",
    )
    page.goto(f"{live_server.url}/status/")
    body = page.locator("body").inner_text()
    assert "Card payments failing" in body and "Major impact" in body
    summary = json.loads(page.request.get(f"{live_server.url}/api/v2/summary.json").body())
    assert [(i["name"], i["impact"]) for i in summary["incidents"]] == [
        ("Card payments failing", "major")
    ]
