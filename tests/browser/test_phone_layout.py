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
        *_postmortem_pages(rows.pk),
        "/incidents/new/",  # the service picker
        "/me/preferences/",
        "/me/",
        "/me/notifications/",
    ]:
        page.goto(f"{live_server.url}{path}")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")

    assert widths == dict.fromkeys(widths, PHONE["width"])


def _postmortem_pages(pk: int) -> list[str]:
    return [
        "/postmortems/",
        f"/postmortems/{pk}/",
        f"/postmortems/{pk}/history/",
        f"/postmortems/{pk}/print/",
        "/postmortems/action-items/",
        "/postmortems/reviews/",
    ]


# Each column of the metrics editor, reachable inside its card: the table fits its
# scroll box or scrolls inside it, and no control overflows its cell.
METRICS_REACHABLE = """() => {
    const table = document.querySelector('table.pm-rows[data-kind=metrics]');
    const box = table.closest('.table-wrap');
    const card = table.closest('.card, .pm-section');
    const boxRect = box.getBoundingClientRect(), cardRect = card.getBoundingClientRect();
    const cells = [...table.querySelectorAll('tr.pm-row:first-child td')];
    const controls = [...table.querySelectorAll('tr[data-row="0"] td > *')];
    const clipped = controls.filter(el => {
        const r = el.getBoundingClientRect(), td = el.closest('td').getBoundingClientRect();
        return r.right > td.right + 1 || r.left < td.left - 1;
    }).map(el => el.getAttribute('aria-label') || el.tagName);
    const scrolls = ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
    return {
        columns: cells.length,
        clipped,
        insideCard: boxRect.left >= cardRect.left - 1 && boxRect.right <= cardRect.right + 1,
        reachable: box.scrollWidth <= box.clientWidth + 1 || scrolls,
    };
}"""


def test_the_metrics_editor_keeps_every_column_reachable(live_server, rows, browser):
    ada = UserFactory(username="ada", role="admin")
    ada.set_password(PASSWORD)
    ada.save()
    for viewport in [{"width": 1366, "height": 900}, PHONE]:
        page = browser.new_page(viewport=viewport)
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        page.goto(f"{live_server.url}/postmortems/{rows.pk}/")
        found = page.evaluate(METRICS_REACHABLE)
        # 7 columns and "remove"; the series has a full-width line of its own under the row.
        assert found == {"columns": 8, "clipped": [], "insideCard": True, "reachable": True}
        # The admin's template pages are postmortem pages too.
        for path in [
            f"/postmortems/{rows.pk}/",
            "/postmortems/templates/",
            f"/postmortems/templates/{rows.template_id}/edit/",
        ]:
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width == viewport["width"], (path, viewport)
        page.close()
