"""The public status page in Chromium: the subscribe form shows only the chosen kind's
field and gives errors back beside it with the input kept; every time says UTC and,
when the reader's clock differs, the reader's own time. At 1366 and 375 px."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidents import services as incident_services
from statuspage import snapshot
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory
from tests.statuspage.conftest import no_broker as no_broker
from tests.statuspage.conftest import publish

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("no_broker"),
]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 800}}
GENERATED = datetime(2026, 12, 1, 13, 4, tzinfo=UTC)
# KEEL_SCREENSHOTS=dir keeps the screenshots for a person to look at.
SHOTS = os.environ.get("KEEL_SCREENSHOTS")


@pytest.fixture
def page_published(transactional_db, settings, tmp_path):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = False
    group = ComponentGroupFactory(name="Platform", position=1)
    ComponentFactory(slug="api", name="API", group=group, position=1)
    ComponentFactory(slug="dashboard", name="Dashboard", group=group, position=2)
    ComponentFactory(slug="email", name="Email delivery", position=3)
    rita = UserFactory(username="rita", role="responder")
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), services=[ServiceFactory()], actor=rita
    )
    publish(incident, rita, public_title="API errors", components={"api": "major_outage"})
    snapshot.snapshot_publish(now=GENERATED)


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", WIDTHS)
def test_the_subscribe_form_shows_the_chosen_kind_and_keeps_what_was_typed(
    live_server, page_published, browser, size
):
    viewport = WIDTHS[size]
    page = browser.new_page(viewport=viewport)
    page.goto(f"{live_server.url}/status/subscribe/")

    assert page.is_visible("#email") and not page.is_visible("#endpoint")
    shoot(page, f"subscribe-email-{size}")
    page.click("label[for=kind-webhook]")
    assert page.is_visible("#endpoint") and not page.is_visible("#email")
    page.click("label[for=kind-email]")
    page.fill("#email", "ann@example.test")
    page.click("label[for=kind-webhook]")
    page.fill("#endpoint", "http://127.0.0.1:9/hook")  # a private address: refused
    page.check("text=Dashboard")
    page.click("button[type=submit]")

    page.wait_for_selector("#endpoint-error")
    assert "Not subscribed:" in page.inner_text("#endpoint-error")
    assert page.is_visible("#endpoint") and not page.is_visible("#email")  # still webhook
    assert page.input_value("#endpoint") == "http://127.0.0.1:9/hook"
    assert page.get_attribute("#endpoint", "aria-invalid") == "true"
    assert page.is_checked("text=Dashboard")
    no_sideways_scroll(page, viewport["width"])
    shoot(page, f"subscribe-error-{size}")

    page.click("label[for=kind-email]")
    page.fill("#email", "ann@example.test")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    page.close()


@pytest.mark.parametrize(
    "zone,expected",
    [
        ("Europe/Berlin", "Dec 1, 2026, 1:04 PM UTC (2:04 PM your time)"),
        ("Pacific/Auckland", "Dec 1, 2026, 1:04 PM UTC (Dec 2, 2:04 AM your time)"),
        ("UTC", "Dec 1, 2026, 1:04 PM UTC"),
    ],
)
def test_times_say_utc_and_the_readers_own_time(
    live_server, page_published, browser, zone, expected
):
    context = browser.new_context(timezone_id=zone, locale="en-US", viewport=WIDTHS["desktop"])
    page = context.new_page()
    page.goto(f"{live_server.url}/status/")

    footer = page.inner_text("footer time")
    assert footer.replace("\u202f", " ") == expected
    footer_text = page.inner_text("footer").replace("\u202f", " ")
    assert footer_text.startswith(f"Generated {expected}. This page is a static snapshot")
    page.click("text=API errors")
    times = page.locator("main time[data-local]").all_inner_texts()
    assert times and all(" UTC" in t for t in times)
    if zone != "UTC":
        assert all(t.endswith(" your time)") for t in times)
    shoot(page, f"incident-{zone.replace('/', '-')}")
    if zone == "Europe/Berlin":
        for size, viewport in WIDTHS.items():
            page.set_viewport_size(viewport)
            page.goto(f"{live_server.url}/status/")
            no_sideways_scroll(page, viewport["width"])
            shoot(page, f"status-{size}")
    context.close()
