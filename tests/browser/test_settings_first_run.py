"""A new admin on an empty install, in Chromium: follows the checklist, connects
Slack (the fake Slack Web API through slack-sdk's ``base_url``), picks the
announcement channel from Slack's list, sends it a test, adds an email list and
sends it a test, checks who a SEV2 would reach, writes a routing rule and checks the
preview, adds a status page component; then a responder declares a SEV2 and a real
worker announces it in the chosen channel. Screenshots at 1366 and
375 px in test-artifacts/."""

from pathlib import Path

import pytest

from notifications.models import Destination
from tests.factories.incidents import UserFactory
from tests.integration.conftest import (  # noqa: F401 (fixtures used by name)
    fake_slack_server,
    integration_services,
    start_worker,
    wait_for,
)
from workspace.models import DestinationTestSend

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"
BOT_TOKEN = "xoxb-2222-BROWSERMARKER9x8y"
SIGNING_SECRET = "BrowserSigningSecret0001"


@pytest.fixture
def fresh_install(transactional_db, settings, fake_slack_server):  # noqa: F811
    """No destination, no Slack in the environment; an admin and a responder."""
    settings.SLACK_BOT_TOKEN = None
    settings.SLACK_SIGNING_SECRET = None
    Destination.objects.all().delete()
    admin = UserFactory(username="ada", role="admin")
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    UserFactory(username="rita", role="responder")
    fake_slack_server.fake.add_channel("C0WARROOM", "war-room")
    return fake_slack_server.fake


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")


def _shoot(page, name: str) -> None:
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"settings-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def _wait_test_sent(page, destination_name: str) -> None:
    row = page.locator("#test-sends tr", has_text=destination_name).first
    row.locator(".tag-sent").wait_for(timeout=30_000)


def _write_routing_rule(page, live_server) -> None:
    """The admin writes a rule with the form's selects and checkboxes (SEV3
    declarations reach the business team, whom no default route tells of a SEV3),
    reads it back as a sentence, and the preview shows it."""
    page.goto(f"{live_server.url}/settings/routing/")
    form = page.locator("#new-route")
    form.locator("#id_name").fill("Business hears of SEV3 declarations")
    form.locator("#id_audience").select_option(label="Business team")
    form.locator("label", has_text="SEV3").locator("input").check()
    form.locator("label", has_text="Incident declared").locator("input").check()
    form.locator("button[type=submit]").click()
    sentence = "SEV3 on any service, on incident declared: Business team"
    assert f"Rule added: {sentence}" in page.inner_text(".messages")
    assert sentence in page.inner_text(".route-list")
    page.select_option("#id_severity", "SEV3")
    page.locator("#who-is-told [data-told=business]").wait_for()
    assert "Business team" in page.inner_text("#who-is-told")
    _shoot(page, "routing-rule")


def _add_component(page, live_server, name: str) -> None:
    """Settings → Status page: add a component; the checklist counts it."""
    page.goto(f"{live_server.url}/settings/status-page/")
    page.fill("#id_component-name", name)
    page.click("#add-component button[type=submit]")
    assert f"{name} is on the status page." in page.locator(".messages").inner_text()
    assert page.locator(".component-name", has_text=name).count() == 1
    _shoot(page, "status-page")
    page.goto(f"{live_server.url}/settings/")
    assert page.locator("[data-step=components].is-done").count() == 1


def test_new_admin_connects_slack_and_email_then_a_sev2_is_announced(
    live_server,
    fresh_install,
    browser,
    start_worker,  # noqa: F811
    tmp_path,
):
    fake = fresh_install
    ARTIFACTS.mkdir(exist_ok=True)
    start_worker(
        env={
            "SLACK_BOT_TOKEN": "",  # Slack comes from Settings, as on a fresh install
            "KEEL_TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        }
    )
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    _login(page, live_server, "ada")

    page.click("nav.topnav >> text=Settings")
    checklist = page.locator(".checklist")
    assert checklist.locator(".is-todo").count() == 4  # everything but people (two of us)
    _shoot(page, "index-empty")
    checklist.locator("[data-step=slack] a").click()

    page.fill("#id_bot_token", BOT_TOKEN)
    page.fill("#id_signing_secret", SIGNING_SECRET)
    page.click("text=Save and test connection")
    # The worker answers; the card polls and the page reloads with the channels.
    page.locator("#slack-check.slack-check-ok").wait_for(timeout=30_000)
    assert "keel" in page.locator("#slack-check").inner_text()
    assert page.locator("[data-credential=bot_token]").inner_text().startswith("set (…9x8y)")
    page.select_option("#id_channel", label="#war-room")
    page.click("text=Announce here")
    assert "Incidents are announced in Slack #war-room" in page.locator(".messages").inner_text()
    _shoot(page, "slack")
    page.click("text=Send a test to Slack #war-room")
    _wait_test_sent(page, "Slack #war-room")
    (test_message,) = fake.roots("C0WARROOM")
    assert test_message["text"].startswith("Test message from Keel")
    assert fake.calls_to("chat.postMessage")[0].token == BOT_TOKEN

    page.goto(f"{live_server.url}/settings/destinations/#add")
    page.select_option("#id_audience", "cs")
    page.select_option("#id_kind", "email")
    page.fill("#id_name", "CS list")
    page.fill("#id_target", "cs-team@keel.test")
    page.click("#add button[type=submit]")
    cs = page.locator("li[data-destination]", has_text="CS list")
    cs.locator("text=Send test").click()
    _wait_test_sent(page, "CS list")
    _shoot(page, "destinations")
    mails = list((tmp_path / "data" / "outbox-mail").glob("*.log"))
    assert any("Test message from Keel" in path.read_text() for path in mails)
    assert DestinationTestSend.objects.filter(status="sent").count() == 2

    # Routing in words, and who a SEV2 declaration would reach (HTMX swaps the answer).
    page.goto(f"{live_server.url}/settings/routing/")
    assert "Any severity on any service, on every update: Responders" in page.inner_text(
        ".route-list"
    )
    page.select_option("#id_severity", "SEV2")
    page.locator("#who-is-told [data-told=cs]").wait_for()
    assert "CS list" in page.inner_text("#who-is-told")
    assert "Slack #war-room" in page.inner_text("#who-is-told [data-told=responders]")
    _shoot(page, "routing")
    _write_routing_rule(page, live_server)

    page.goto(f"{live_server.url}/settings/")
    assert page.locator("[data-step=slack].is-done, [data-step=email].is-done").count() == 2
    _shoot(page, "index-connected")
    _add_component(page, live_server, "Card payments")
    page.context.clear_cookies()  # signed out: the responder signs in next

    _login(page, live_server, "rita")
    page.click("nav.topnav >> text=Declare incident")
    page.fill("#id_title", "Card payments fail")
    sev2 = page.locator("#id_severity option", has_text="SEV2").get_attribute("value")
    page.select_option("#id_severity", sev2)
    page.click("#declare-form button[type=submit]")
    page.wait_for_selector(".stepper")
    wait_for(lambda: len(fake.roots("C0WARROOM")) == 2, what="the SEV2 announcement")
    announcement = fake.roots("C0WARROOM")[-1]
    assert "Card payments fail" in announcement["text"]
    assert page_errors == []
    for path in ARTIFACTS.glob("settings-*.png"):
        assert path.stat().st_size > 0
