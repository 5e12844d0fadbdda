"""Two incidents share a component; a responder resolves one from the Communications
tab in a real browser, sees the preview of what the component will become, posts,
and a real worker publishes the status page, which keeps the component degraded."""

import json

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from tests.factories.incidents import UserFactory, severity
from tests.factories.statuspage import ComponentFactory
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


def _publish(incident, actor, title, components):
    update = notification_services.update_post(
        incident=incident,
        message=f"{title}: we are investigating.",
        actor=actor,
        audiences=["public"],
        public_status="investigating",
        public_title=title,
        components=components,
    )
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT


@pytest.fixture
def rows(transactional_db, tmp_path, settings):
    """Written before the browser starts (see test_incident_flow.py for why)."""
    # The worker publishes the snapshot under its data dir; the live server serves it.
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "data" / "statuspage"
    rita = UserFactory(username="rita", role="responder")
    ComponentFactory(slug="checkout", name="Checkout", position=1)
    ComponentFactory(slug="api", name="API", position=2)
    payments = incident_services.incident_declare(
        title="Card payments fail", severity=severity("SEV2"), actor=rita
    )
    slow = incident_services.incident_declare(
        title="Checkout latency", severity=severity("SEV3"), actor=rita
    )
    _publish(payments, rita, "Payments down", {"checkout": "major_outage", "api": "partial_outage"})
    _publish(slow, rita, "Slow checkout", {"checkout": "degraded_performance"})
    return payments


def _components(page, live_server) -> dict:
    response = page.request.get(f"{live_server.url}/api/v2/components.json")
    return {c["name"]: c["status"] for c in json.loads(response.body())["components"]}


def test_resolving_one_of_two_incidents_keeps_the_shared_component_degraded(
    live_server,
    rows,
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

    page.goto(f"{live_server.url}/incidents/{rows.pk}/communications/")
    page.fill("#id_message", "Card payments work again. We are sorry for the trouble.")
    page.check("#update-form input[name=audiences][value=public]")
    page.select_option("#id_public_status", "resolved")
    page.click("#update-form button[name=preview]")
    preview = page.wait_for_selector("[data-preview-components]")
    text = preview.inner_text()
    assert "Checkout" in text and "Major outage → Degraded performance" in text
    assert "Slow checkout" in text  # why it stays degraded
    assert "API" in text and "Partial outage → Operational" in text

    page.click("#update-form button.button-primary")
    page.wait_for_selector("[data-notice]:has-text('Update posted to Public')")

    # The real worker publishes; the page and its JSON follow.
    wait_for(
        lambda: (
            _components(page, live_server)
            == {"Checkout": "degraded_performance", "API": "operational"}
        ),
        timeout=60,
        what="the worker to publish the resolution",
    )
    page.goto(f"{live_server.url}/status/")
    body = page.locator("body").inner_text()
    assert "Slow checkout" in body
    checkout_row = page.locator(".comp", has_text="Checkout").first.inner_text()
    assert "Degraded performance" in checkout_row
    summary = json.loads(page.request.get(f"{live_server.url}/api/v2/summary.json").body())
    assert [i["name"] for i in summary["incidents"]] == ["Slow checkout"]
