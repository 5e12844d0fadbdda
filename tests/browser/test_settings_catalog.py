"""Settings → Status page in Chromium: an admin adds a component in a group with a
mapped service (picked by typing), moves it up with the HTMX buttons, and the public
page, republished through the snapshot request, lists it first. Then the same at
375 px; screenshots of both widths in test-artifacts/."""

from pathlib import Path

import pytest

from statuspage import catalog, snapshot
from statuspage.models import Component
from statuspage.tasks import statuspage_publish_snapshot_task
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.workspace.test_status_page_settings import tiny_png

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"


@pytest.fixture
def snapshot_requests(monkeypatch, settings, tmp_path):
    """No broker here: a snapshot request is recorded; the test runs the real task."""
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    requested = []
    monkeypatch.setattr(
        statuspage_publish_snapshot_task,
        "apply_async",
        lambda args=(), **kwargs: requested.append(tuple(args)),
    )
    return requested


@pytest.fixture
def catalog_admin(transactional_db):
    admin = UserFactory(username="ada", role="admin")
    ServiceFactory(name="Checkout API", slug="checkout-api")
    ServiceFactory(name="Search", slug="search")
    payments = catalog.group_create(actor=admin, name="Payments")
    catalog.component_create(actor=admin, name="Card payments", group=payments)
    catalog.component_create(actor=admin, name="Invoices", group=payments)
    return admin


def _login(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")


def _shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"settings-{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    page.set_viewport_size({"width": 1366, "height": 900})


def _names_in(page, group: str) -> list[str]:
    return page.locator(f"[data-group='{group}'] .component-name").all_inner_texts()


def test_add_a_component_with_a_service_and_move_it_up(
    live_server, catalog_admin, snapshot_requests, browser
):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server)
    page.goto(f"{live_server.url}/settings/")
    page.click(".settings-nav >> text=Status page")
    assert _names_in(page, "Payments") == ["Card payments", "Invoices"]

    page.fill("#id_component-name", "Wallets")
    page.fill("#id_component-description", "Apple Pay and Google Pay.")
    page.select_option("#id_component-group", label="Payments")
    services = page.locator("#id_component-services_search")
    services.focus()
    page.keyboard.type("check")
    page.wait_for_selector("#id_component-services_listbox [role=option]:has-text('Checkout API')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#add-component .typeahead-chip:has-text('Checkout API')")
    page.click("#add-component button[type=submit]")
    assert "Wallets is on the status page." in page.inner_text(".messages")
    assert _names_in(page, "Payments") == ["Card payments", "Invoices", "Wallets"]
    wallets = Component.objects.get(name="Wallets")
    row = page.locator(f"#component-{wallets.pk}")
    assert row.locator("[data-service=checkout-api]").inner_text() == "Checkout API"
    _shoot(page, "status-page-added")

    # Up twice with the HTMX buttons: only the list is swapped, the page stays.
    for expected in (
        ["Card payments", "Wallets", "Invoices"],
        ["Wallets", "Card payments", "Invoices"],
    ):
        with page.expect_response(lambda r: r.url.endswith("/settings/status-page/")):
            row.get_by_role("button", name="Move Wallets up").click()
        page.wait_for_function(
            "names => [...document.querySelectorAll(\"[data-group='Payments'] .component-name\")]"
            ".map(n => n.textContent).join('|') === names",
            arg="|".join(expected),
        )
    assert page.locator(f"#component-{wallets.pk} button[value=up]").is_disabled()
    assert page.locator("#id_component-name").input_value() == ""  # the forms were not swapped
    _shoot(page, "status-page-moved")

    statuspage_publish_snapshot_task.run(*snapshot_requests[-1])
    assert snapshot.current_release() is not None
    page.goto(f"{live_server.url}/status/")
    names = page.locator(".comp .name").all_text_contents()
    assert names == ["Payments", "Wallets", "Card payments", "Invoices"]
    assert errors == []


def test_severity_cadence_then_a_team_with_a_member_owning_a_service(
    live_server, catalog_admin, browser
):
    UserFactory(username="sam", first_name="Samantha", last_name="Okafor", role="responder")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server)

    page.goto(f"{live_server.url}/settings/severities/")
    page.locator("[data-severity=SEV3]").get_by_role("link", name="Edit SEV3").click()
    name = page.input_value("#id_name")
    page.fill("#id_name", "   ")  # the browser lets spaces through; the server does not
    page.click("main button[type=submit]")
    assert "This field is required." in page.inner_text(".field.has-error")
    page.fill("#id_name", name)
    page.fill("#id_update_interval_minutes", "45")
    page.check("#id_postmortem_required")
    page.click("main button[type=submit]")
    assert "SEV3 saved." in page.inner_text(".messages")
    assert page.inner_text("[data-severity=SEV3] [data-label='Update every']") == "45 min"
    assert "SEV3" in page.inner_text("#closing-rules")
    _shoot(page, "severities")

    page.click(".settings-nav >> text=Teams and services")
    page.fill("#id_team-name", "Payments Core")
    members = page.locator("#id_team-members_search")
    members.focus()
    page.keyboard.type("sam")
    page.wait_for_selector("#id_team-members_listbox [role=option]:has-text('Samantha Okafor')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#add-team .typeahead-chip:has-text('Samantha Okafor')")
    page.keyboard.press("Escape")  # closes the suggestions
    page.click("#add-team button[type=submit]")
    assert "Team Payments Core added." in page.inner_text(".messages")
    assert "Samantha Okafor" in page.inner_text("[data-team=payments-core]")

    page.fill("#id_service-name", "Ledger")
    page.select_option("#id_service-owner_team", label="Payments Core")
    page.select_option("#id_service-tier", "1")
    page.click("#add-service button[type=submit]")
    assert "Service Ledger added." in page.inner_text(".messages")
    assert "Payments Core" in page.inner_text("[data-service=ledger]")
    _shoot(page, "services")

    page.locator("[data-team=payments-core]").get_by_role("link").click()
    assert "Cannot be removed: it owns Ledger" in page.inner_text("#remove")
    _shoot(page, "team-edit")
    assert errors == []


def test_page_name_logo_and_time_zone_reach_the_public_page(
    live_server, catalog_admin, snapshot_requests, browser
):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server)
    page.goto(f"{live_server.url}/settings/status-page/")
    page.fill("#id_page-name", "Acme")
    zone = page.locator("#id_page-time_zone_search")
    zone.focus()
    page.keyboard.type("Paris")
    page.wait_for_selector("#id_page-time_zone_listbox [role=option]:has-text('Europe/Paris')")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.set_input_files(
        "#id_page-logo", files=[{"name": "logo.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.click("#page-settings button[type=submit]")
    assert "Status page settings saved" in page.inner_text(".messages")
    statuspage_publish_snapshot_task.run(*snapshot_requests[-1])

    for reader, local in (("America/New_York", True), ("Europe/Paris", False)):
        context = browser.new_context(
            timezone_id=reader, locale="en-US", viewport={"width": 375, "height": 800}
        )
        public = context.new_page()
        public.on("pageerror", lambda error: errors.append(str(error)))
        public.goto(f"{live_server.url}/status/")
        assert public.inner_text("header.top h1").strip() == "Acme status"
        logo = public.locator("header.top img.logo")
        assert logo.evaluate("img => img.complete && img.naturalWidth") == 1
        footer = public.inner_text("footer time").replace("\u202f", " ")
        assert "GMT+1" in footer and " UTC" not in footer
        assert ("your time" in footer) is local
        if local:
            public.screenshot(path=str(ARTIFACTS / "settings-public-page-375.png"), full_page=True)
        context.close()
    assert errors == []


def test_a_too_big_logo_is_refused_on_the_field_before_and_after_the_upload(
    live_server, catalog_admin, snapshot_requests, browser
):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server)
    page.goto(f"{live_server.url}/settings/status-page/")
    page.fill("#id_page-name", "Acme")
    photo = {"name": "holiday.png", "mimeType": "image/png", "buffer": tiny_png() + b"\0" * 2**20}
    page.set_input_files("#id_page-logo", files=[photo])
    said = page.locator("#id_page-logo").evaluate("input => input.validationMessage")
    assert said == "The logo is 1024 KB; at most 192 KB."
    page.click("#page-settings button[type=submit]")
    assert page.url.endswith("/settings/status-page/")  # the browser held the form back

    # The server says the same when the check is not there (no JavaScript, old browser).
    page.locator("#id_page-logo").evaluate("input => input.setCustomValidity('')")
    with page.expect_response(lambda r: r.url.endswith("/settings/status-page/")) as answer:
        page.click("#page-settings button[type=submit]")
    assert answer.value.status == 400
    assert "The logo is 1024 KB; at most 192 KB." in page.inner_text("#page-settings")
    assert page.input_value("#id_page-name") == "Acme"
    assert snapshot_requests == []  # nothing saved, nothing republished
    assert errors == []
