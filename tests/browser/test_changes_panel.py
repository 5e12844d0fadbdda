"""The changes panel in Chromium at 1366 and 375 px: listed beside the incident,
marked as the trigger with a click (HTMX swap), nothing scrolls sideways. The
screenshots go to docs/screenshots/changes-panel-*.png."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import changes
from incidents import services as incident_services
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def incident(transactional_db):
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    checkout = ServiceFactory(slug="checkout", name="Checkout")
    now = timezone.now()
    for hours, kind, version in [
        (4, "migration", "0042_orders_add_region_index"),
        (2, "feature_flag", "new-payment-form=50%"),
        (0.5, "deploy", "2026.03.04-1-with-a-rather-long-version-string-that-must-wrap"),
    ]:
        changes.change_record(
            actor=rita,
            service=checkout,
            kind=kind,
            version=version,
            who="rita",
            at=now - timedelta(hours=hours),
            link="https://github.com/example/checkout/actions/runs/4242",
            source="github-actions",
        )
    return incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), services=[checkout], actor=rita
    )


@pytest.mark.parametrize("width", [1366, 375])
def test_the_panel_reads_and_marks_the_trigger(live_server, incident, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")

    panel = page.locator("#changes")
    assert panel.locator("li.change").count() == 3
    assert "Deploy" in panel.locator("li.change").first.inner_text()
    panel.locator("li.change").nth(1).get_by_role("button", name="Mark as trigger").click()
    page.locator("#changes .tag-trigger").wait_for()
    assert "new-payment-form" in page.locator("#changes li.change-trigger").inner_text()
    assert page.locator("#changes").get_by_role("button", name="Not the trigger").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") == width

    SCREENSHOTS.mkdir(exist_ok=True)
    page.locator("#changes").screenshot(path=str(SCREENSHOTS / f"changes-panel-{width}.png"))
    incident.refresh_from_db()
    assert incident.preceding_change.reference == "new-payment-form=50%"
