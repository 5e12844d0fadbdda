"""A review with teeth, in a real browser: the main author's own approval and a viewer's
approval are refused (even posted by hand, past the missing buttons); a reviewer's
approval counts until the author fixes a typo, which sends the postmortem back to
review and onto the reviewer's "Reviews waiting for me" list."""

import pytest

from postmortems import services
from postmortems.models import Review
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"


@pytest.fixture
def rows(transactional_db):
    """Rows are written before the browser starts (see test_incident_flow.py)."""
    users = {}
    for username, role in [("rita", "responder"), ("bob", "responder"), ("vera", "viewer")]:
        user = UserFactory(username=username, role=role, email=f"{username}@example.test")
        user.set_password(PASSWORD)
        user.save()
        users[username] = user
    rita = users["rita"]
    postmortem = started_postmortem(actor=rita)
    options = [
        {"id": o.pk, "title": o.title, "chosen": o.title == "Roll back", "reason": "Known good."}
        for o in postmortem.remediation_options.all()
    ]
    services.section_save(
        postmortem=postmortem,
        key="remediations",
        content={"rows": options},
        expected_version=postmortem.version,
        actor=rita,
    )
    services.postmortem_submit(postmortem=postmortem, actor=rita, reviewers=[users["bob"]])
    return postmortem


def _login(browser, live_server, username: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def _post_approval_by_hand(page, url: str) -> str:
    """What a crafted request would do where the page offers no Approve button: the
    text of the page it lands on (the redirect back to the postmortem, with its message)."""
    return page.evaluate(
        """async (url) => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const body = new URLSearchParams({verdict: 'approve', comment: '',
                                              csrfmiddlewaretoken: token});
            const response = await fetch(url, {method: 'POST', body, credentials: 'same-origin'});
            const html = new DOMParser().parseFromString(await response.text(), 'text/html');
            const messages = html.querySelector('.messages');
            return messages ? messages.textContent : '';
        }""",
        url,
    )


def test_self_and_viewer_approvals_are_refused_and_an_edit_withdraws_an_approval(
    live_server, rows, browser
):
    postmortem = rows
    detail = f"{live_server.url}/postmortems/{postmortem.pk}/"
    review_url = f"/postmortems/{postmortem.pk}/review/"

    # The viewer sees no review form, and a hand-made approval is refused.
    vera = _login(browser, live_server, "vera")
    vera.goto(detail)
    assert vera.locator("#review-form").count() == 0
    refused = _post_approval_by_hand(vera, review_url)
    assert "Viewers (read-only) cannot review postmortems." in refused

    # The main author (rita started it and saved its content) cannot approve it either.
    rita = _login(browser, live_server, "rita")
    rita.goto(detail)
    assert "rita" in rita.inner_text("#pm-author")
    assert rita.locator("#review-form").count() == 0
    assert "would be a self-approval" in _post_approval_by_hand(rita, review_url)
    assert not Review.objects.exists()

    # Bob, the named reviewer, approves: that one counts.
    bob = _login(browser, live_server, "bob")
    bob.goto(f"{live_server.url}/postmortems/reviews/")
    assert bob.locator("#reviews-waiting a", has_text=postmortem.title).count() == 1
    bob.goto(detail)
    bob.click("#review-form button[value=approve]")
    bob.wait_for_selector("#pm-approved:has-text('bob')")
    rita.goto(detail)
    assert rita.locator("#publish-form button[type=submit]").is_enabled()

    # Rita fixes a typo: the approval is withdrawn and the postmortem is back in review.
    rita.evaluate("window.keelNoReload = true")
    summary = rita.locator("#pm-summary-text")
    summary.fill(summary.input_value() + " (typo fixed)")
    summary.press("Tab")
    rita.wait_for_selector("#status-summary .pm-saved")
    rita.goto(detail)
    assert "In review" in rita.inner_text("#pm-status")
    assert "Withdrawn" in rita.inner_text(".pm-review-withdrawn")
    assert "bob" in rita.inner_text("#pm-pending")
    assert rita.locator("#publish-form button[type=submit]").is_disabled()
    assert "a typo fix too" in rita.inner_text("#pm-withdraw-help")
    bob.goto(f"{live_server.url}/postmortems/reviews/")
    assert bob.locator("#reviews-waiting a", has_text=postmortem.title).count() == 1
