"""CS in a real browser: a viewer lands on the desk, copies a reply, and the desk
refreshes itself in place (static/js/live.js polling with ETag, driven by
Playwright's clock; the event stream is tested in test_live_pages.py)."""

import pytest

from incidents import services as incident_services
from notifications import services as notification_services
from tests.factories.incidents import UserFactory, severity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"


@pytest.fixture
def rows(transactional_db):
    rita = UserFactory(username="rita", role="responder")
    vic = UserFactory(username="vic", role="viewer")
    vic.set_password(PASSWORD)
    vic.save()
    incident = incident_services.incident_declare(
        title="Search is slow", severity=severity("SEV3"), actor=rita
    )
    notification_services.update_post(
        incident=incident, message="Search takes 10 s for some.", actor=rita, audiences=["cs"]
    )
    return incident


def test_a_viewer_lands_on_the_desk_copies_a_reply_and_sees_it_refresh(
    live_server, rows, browser, settings
):
    settings.KEEL_LIVE_STREAMS = False  # the embedded default: the desk polls
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.clock.install()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "vic")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cs/")
    assert page.locator("nav a[aria-current=page]").inner_text() == "CS desk"

    reply_id = f"reply-{rows.pk}"
    page.click(f"button[data-copy='{reply_id}']")
    page.wait_for_selector(f"[data-copy-status='{reply_id}']:has-text('Copied.')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.input_value(f"#{reply_id}")
    assert "Search takes 10 s for some." in copied

    # The desk says it was rendered at an older version than the server has now (as
    # after a change): the next poll fetches the desk again and swaps the items in.
    page.wait_for_selector("[data-live][data-live-mode=poll]", state="attached")
    page.evaluate("document.getElementById('cs-items').dataset.liveVersion = 'older'")
    with page.expect_response(lambda response: response.url == f"{live_server.url}/cs/") as fetch:
        page.clock.fast_forward("00:11")
    assert fetch.value.status == 200
    page.wait_for_selector("#cs-items:not([data-live-version=older])")
    # The swapped-in copy still has a working, visible Copy button.
    assert page.locator(f"button[data-copy='{reply_id}']").is_visible()
    context.close()
