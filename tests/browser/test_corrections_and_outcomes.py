"""Issue 11 in a real browser: a false alarm closed from detect, a decision picked by
radio, a wrong skip corrected so that *Time to recover* is measured, a note edited
(its form brought on demand) and struck; the incident page does not scroll sideways
at 375 px."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import services
from tests.factories.incidents import UserFactory, severity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"


@pytest.fixture
def incidents(transactional_db):
    """Written before the browser starts (see test_incident_flow.rows)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    detected = (timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    flap = services.incident_declare(
        title="Checkout probe red", severity=severity("SEV3"), actor=rita
    )
    skipped = services.incident_declare(
        title="Card payments fail after the 14:02 deploy",
        severity=severity("SEV3"),
        actor=rita,
        detected_at=detected,
    )
    services.incident_move(incident=skipped, to="propagate", actor=rita)
    services.incident_move(incident=skipped, to="judge", actor=rita)
    services.note_add(incident=skipped, text="Error rate 38 % on card payments.", actor=rita)
    return {"flap": flap.pk, "skipped": skipped.pk, "detected": detected}


def _login(page, base):
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/incidents/")


def test_false_alarm_decision_by_radio_and_a_corrected_skip(live_server, incidents, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server.url)

    # A false alarm closes from detect, with its reason; the figures say why they are gone.
    page.goto(f"{live_server.url}/incidents/{incidents['flap']}/")
    page.click("summary:has-text('Close the incident')")
    assert not page.is_checked("#id_close-outcome_0")  # resolved is not offered by default
    page.check("input[name=close-outcome][value=false_alarm]")
    page.fill("#id_close-note", "The synthetic probe lost its DNS; checkout was fine.")
    page.click("#close-form button[type=submit]")
    page.wait_for_selector(".incident-head .outcome-false_alarm")
    assert "Not measured: closed as false alarm" in page.inner_text("#not-measured")
    assert page.locator(".step[data-state=current]").get_attribute("data-stage") == "detect"

    # A decision: options typed in rows, the chosen one picked by its radio button.
    page.goto(f"{live_server.url}/incidents/{incidents['skipped']}/")
    page.evaluate("window.keelNoReload = true")
    page.click("summary:has-text('Record a decision')")
    page.fill("#id_decision-option_0", "Roll back")
    page.fill("#id_decision-option_1", "Fix forward")
    page.click("button[data-add-option]")
    page.fill("#id_decision-option_4", "Fail over to the second provider")
    page.check("#id_decision-chosen_1")
    page.fill("#id_decision-rationale", "The fix is one line and the rollback drops orders.")
    page.click("#decision-form button[type=submit]")
    page.wait_for_selector(".decision:has-text('Chose: Fix forward')")
    assert "Fail over to the second provider" in page.inner_text(".decision")

    # Judge → Share skipping Recover (confirmed), then the skip is corrected.
    page.select_option("#id_move-stage", "share")
    page.check("#id_move-confirm_skip")
    page.click("#move-form button[type=submit]")
    page.wait_for_selector(".step[data-stage=share][data-state=current]")
    recover = page.locator(".durations div", has_text="Time to recover")
    assert "—" in recover.inner_text()
    page.click("summary:has-text('Correct a stage time')")
    assert page.input_value("#id_correct-stage") == "recover"  # the first skipped stage
    really = incidents["detected"] + timedelta(minutes=40)
    page.fill("#id_correct-at", really.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#id_correct-reason", "The fix was live at 40 minutes; Recover was skipped.")
    page.click("#correct-form button[type=submit]")
    page.wait_for_selector(".event-stage_time_corrected")
    assert "40m 00s" in recover.inner_text()
    assert page.locator(".step[data-stage=recover]").get_attribute("data-state") == "reached"
    assert page.locator(".step[data-stage=recover] .step-corrected").count() == 1
    event = page.inner_text(".event-stage_time_corrected")
    assert "Recover time corrected from — (skipped) to" in event
    assert "first decision" in page.inner_text(".durations")
    assert page.evaluate("window.keelNoReload") is True

    # A note is edited in place: Edit brings its form (HTMX), Save writes the new text.
    note = page.locator(".event-note").first
    assert note.locator("textarea").count() == 0
    note.locator("a.note-control:has-text('Edit')").click()
    note.locator("textarea[name$=-text]").fill("Error rate 38 % on card payments (EU only).")
    note.locator("button:has-text('Save note')").click()
    page.wait_for_selector(".event-note .event-revision:has-text('Edited by')")
    assert "(EU only)" in note.inner_text()
    assert page.evaluate("window.keelNoReload") is True

    # A note is struck through, never deleted.
    note.locator("summary:has-text('Strike through')").click()
    note.locator("input[name$=-reason]").fill("It was 3.8 %")
    note.locator("button:has-text('Strike through')").click()
    page.wait_for_selector(".event-struck del:has-text('Error rate 38 %')")

    page.screenshot(path=str(ARTIFACTS / "incident-corrected-1366.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "incident-corrected-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.goto(f"{live_server.url}/incidents/{incidents['flap']}/")
    page.screenshot(path=str(ARTIFACTS / "incident-false-alarm-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.goto(f"{live_server.url}/incidents/")
    assert page.locator("td .outcome-false_alarm").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert errors == []
