"""People told what is theirs, in a real browser: "My work" lists the incidents where
I hold a role, the update I owe, the review waiting for me and my action items
(overdue marked); "How I am told" saves a channel per kind, and a value the form
never offers is refused with the kind named. Neither page scrolls sideways at
375 px. Screenshots (1366 and 375 px) go to $KEEL_SCREENSHOT_DIR, else tmp."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import preferences
from postmortems import review
from postmortems import services as pm_services
from tests.factories.incidents import UserFactory, severity
from tests.factories.postmortems import started_postmortem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture
def rows(transactional_db):
    """Bob's work, written before the browser starts (see test_incident_flow.py)."""
    users = {}
    for username, first, last in [("rita", "Rita", "Reyes"), ("bob", "Bob", "Okafor")]:
        user = UserFactory(username=username, first_name=first, last_name=last, role="responder")
        user.set_password(PASSWORD)
        user.save()
        users[username] = user
    rita, bob = users["rita"], users["bob"]
    postmortem = started_postmortem(actor=rita)
    options = [
        {"id": o.pk, "title": o.title, "chosen": o.title == "Roll back", "reason": "Known good."}
        for o in postmortem.remediation_options.all()
    ]
    pm_services.section_save(
        postmortem=postmortem,
        key="remediations",
        content={"rows": options},
        expected_version=postmortem.version,
        actor=rita,
    )
    today = timezone.localdate()
    for title, due in [
        ("Alert on checkout 5xx above 2%", today - timedelta(days=2)),
        ("Add a canary stage to the deploy", today),
        ("Write the rollback runbook", today + timedelta(days=7)),
    ]:
        pm_services.action_item_create(
            postmortem=postmortem,
            actor=rita,
            data={"title": title, "owner": "bob", "due_date": due},
        )
    postmortem.refresh_from_db()
    review.postmortem_submit(postmortem=postmortem, actor=rita, reviewers=[bob])
    live = incident_services.incident_declare(
        title="Search results empty for EU customers", severity=severity("SEV2"), actor=rita
    )
    incident_services.incident_assign_role(
        incident=live, role="communications_lead", user=bob, actor=rita
    )
    incident_services.incident_assign_role(
        incident=postmortem.incident, role="responder", user=bob, actor=rita
    )
    return {"live": live, "postmortem": postmortem, "bob": bob}


def _shots() -> Path:
    return Path(os.environ.get("KEEL_SCREENSHOT_DIR") or "/tmp/keel-screenshots-my-work")


def _login(browser, live_server, viewport):
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def test_my_work_and_how_i_am_told(live_server, rows, browser):
    shots = _shots()
    shots.mkdir(parents=True, exist_ok=True)
    page = _login(browser, live_server, DESKTOP)
    page.click("nav.topnav >> text=My work")
    page.wait_for_url(f"{live_server.url}/me/")
    incidents = page.locator("#my-incidents tbody tr")
    assert incidents.count() == 2
    assert "Communications lead" in incidents.nth(0).inner_text()
    assert "Search results empty" in page.locator("#my-updates-owed").inner_text()
    assert rows["postmortem"].title in page.locator("#my-reviews").inner_text()
    items = page.locator("#my-action-items tbody tr")
    assert items.count() == 3
    assert (
        "Overdue" in items.nth(0).inner_text() and "Alert on checkout" in items.nth(0).inner_text()
    )
    assert "Due today" in items.nth(1).inner_text()
    page.screenshot(path=str(shots / "my-work-1366.png"), full_page=True)

    page.click("text=How I am told (notification preferences)")
    page.wait_for_url(f"{live_server.url}/me/notifications/")
    page.check("input[name=action_item_overdue][value=slack_dm]")
    page.check("input[name=review_requested][value=none]")
    page.screenshot(path=str(shots / "my-notifications-1366.png"), full_page=True)
    page.click("#notification-preferences button[type=submit]")
    page.wait_for_selector(".messages")
    assert "Saved: 2 changes." in page.locator(".messages").inner_text()
    assert page.is_checked("input[name=action_item_overdue][value=slack_dm]")
    chosen = preferences.preferences_for(rows["bob"])
    assert chosen["action_item_overdue"] == "slack_dm" and chosen["review_requested"] == "none"

    # A value the radios never offer (a crafted post) is refused, the kind named.
    page.evaluate(
        "() => { const radio = document.querySelector('input[name=update_due][value=email]');"
        " radio.value = 'carrier-pigeon'; radio.checked = true; }"
    )
    page.click("#notification-preferences button[type=submit]")
    page.wait_for_selector(".field-errors")
    assert (
        "An update I owe as communications lead is due: choose one of"
        in page.locator(".field-errors").inner_text()
    )
    assert preferences.preferences_for(rows["bob"])["update_due"] == "slack_dm"

    phone = _login(browser, live_server, PHONE)
    for path, name in [
        ("/me/", "my-work-375.png"),
        ("/me/notifications/", "my-notifications-375.png"),
    ]:
        phone.goto(f"{live_server.url}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") == PHONE["width"], path
        phone.screenshot(path=str(shots / name), full_page=True)
