"""At 375 px nothing scrolls sideways: wide tables scroll inside their own box, and the
page itself is never wider than the phone (issue 11: hidden header labels escaped)."""

import pytest

from notifications import services as notification_services
from notifications.models import Destination
from tests.factories.incidents import UserFactory
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.postmortems import started_postmortem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
PHONE = {"width": 375, "height": 800}


@pytest.fixture
def rows(transactional_db):
    """An incident with deliveries to every audience and a started postmortem, written
    before the browser starts (see test_incident_flow.rows)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    for slug, kind, target in [
        ("responders", Destination.Kind.SLACK, "C0INCIDENTS"),
        ("cs", Destination.Kind.EMAIL, "cs@example.com"),
        ("business", Destination.Kind.EMAIL, "business@example.com"),
    ]:
        DestinationFactory(audience=audience(slug), kind=kind, target=target)
    postmortem = started_postmortem(actor=rita)
    notification_services.update_post(
        incident=postmortem.incident,
        message="Rolled back; error rate is falling.",
        audiences=["responders", "cs", "business"],
        actor=rita,
    )
    return postmortem


def test_no_page_scrolls_sideways_on_a_phone(live_server, rows, browser):
    incident = rows.incident
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    widths = {}
    for path in [
        "/incidents/",
        f"/incidents/{incident.pk}/",
        f"/incidents/{incident.pk}/communications/",
        f"/incidents/{incident.pk}/history/",
        f"/postmortems/{rows.pk}/",
        "/postmortems/action-items/",
    ]:
        page.goto(f"{live_server.url}{path}")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")

    assert widths == dict.fromkeys(widths, PHONE["width"])
