"""Speed for daily use (issue 11, item 7), in a real browser: pickers driven by typing
and the keyboard only, the shortcuts and their help dialog, and screenshots of both."""

from pathlib import Path

import pytest

from incidents.models import Incident, RoleAssignment
from tests.factories.incidents import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture
def rows(transactional_db):
    """Written before the browser starts (see test_incident_flow.rows)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    UserFactory(username="sam", first_name="Samantha", last_name="Okafor", role="responder")
    UserFactory(username="sammy", first_name="Sam", last_name="Old", is_active=False)
    payments = TeamFactory(name="Payments", slug="payments")
    ServiceFactory(name="Checkout", slug="checkout", owner_team=payments)
    ServiceFactory(name="Payments API", slug="payments-api", owner_team=payments)
    ServiceFactory(name="Search", slug="search", owner_team__name="Discovery")
    IncidentFactory(title="Search is slow", created_by=rita)
    IncidentFactory(title="Login fails", created_by=rita)
    return rita


def _sign_in(browser, live_server, viewport=DESKTOP):
    page = browser.new_page(viewport=viewport)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    return page, errors


def _selected(page, select: str) -> list[str]:
    return page.eval_on_selector(
        select, "s => Array.from(s.selectedOptions).map(o => o.text).filter(Boolean)"
    )


def test_services_and_a_person_are_picked_by_typing_and_keys_only(live_server, rows, browser):
    page, errors = _sign_in(browser, live_server)
    page.goto(f"{live_server.url}/incidents/new/")
    page.fill("#id_title", "Card payments fail")
    sev3 = page.locator("#id_severity option", has_text="SEV3").get_attribute("value")
    page.select_option("#id_severity", sev3)

    services = page.locator("#id_services_search")
    assert services.get_attribute("role") == "combobox"
    assert page.locator("label[for=id_services_search]").count() == 1
    services.focus()
    page.keyboard.type("chec")
    page.wait_for_selector("#id_services_listbox [role=option]:has-text('Checkout')")
    assert services.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Enter")
    page.wait_for_selector(".typeahead-chip:has-text('Checkout')")

    page.keyboard.type("pay")
    page.wait_for_selector("#id_services_listbox [role=option]:has-text('Payments API')")
    page.keyboard.press("Enter")
    page.keyboard.type("se")
    option = "#id_services_listbox [role=option]:has-text('Search')"
    page.wait_for_selector(option)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    active = services.get_attribute("aria-activedescendant")
    assert page.locator(f"#{active}").inner_text().startswith("Search")
    page.keyboard.press("Escape")
    assert page.locator("#id_services_listbox").is_hidden()
    assert services.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Escape")
    assert services.input_value() == ""
    assert _selected(page, "#id_services") == ["Checkout", "Payments API"]

    page.keyboard.press("Backspace")  # empty box: removes the last chip
    page.wait_for_selector(".typeahead-chip:has-text('Payments API')", state="detached")
    assert _selected(page, "#id_services") == ["Checkout"]

    page.click("#declare-form button[type=submit]")
    page.wait_for_selector(".stepper")
    incident = Incident.objects.get(title="Card payments fail")
    assert [service.name for service in incident.services.all()] == ["Checkout"]

    page.click("summary:has-text('Assign a role')")  # fetches the form (HTMX)
    person = page.locator("#id_role-user_search")
    person.focus()
    page.keyboard.type("sam")
    page.wait_for_selector("#id_role-user_listbox [role=option]:has-text('Samantha Okafor')")
    # The deactivated "sammy" is never offered.
    assert page.locator("#id_role-user_listbox [role=option]").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_selector("#role-form .typeahead-chip:has-text('Samantha Okafor')")
    assert _selected(page, "#id_role-user") == ["Samantha Okafor (sam)"]
    with page.expect_response(lambda response: response.url.endswith("/roles/")) as answer:
        page.click("#role-form button[type=submit]")
    assert answer.value.status == 200
    page.wait_for_selector(".facts dd:has-text('Samantha Okafor')")
    assert RoleAssignment.objects.filter(incident=incident, user__username="sam").exists()
    # The roles card was swapped by HTMX (and maybe again by the live page, which the
    # assignment itself announces): opened again, its picker is fetched and enhanced once.
    page.click("summary:has-text('Assign a role')")
    page.wait_for_selector("#id_role-user_search")
    assert page.locator("#id_role-user_search").count() == 1
    assert errors == []


def test_question_mark_opens_the_shortcuts_and_escape_closes_them(live_server, rows, browser):
    page, errors = _sign_in(browser, live_server)
    assert page.locator("footer [data-shortcuts-open]").is_visible()

    page.keyboard.press("?")
    dialog = page.locator("#shortcuts-dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.getElementById('shortcuts-dialog').open") is True
    assert page.evaluate("document.activeElement.closest('dialog') !== null") is True
    for _ in range(3):  # Tab stays inside the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null") is True
    page.keyboard.press("g")  # no shortcut fires behind the dialog
    page.keyboard.press("p")
    assert page.url == f"{live_server.url}/incidents/"

    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.click("footer [data-shortcuts-open]")
    dialog.wait_for(state="visible")
    page.click("[data-shortcuts-close]")
    dialog.wait_for(state="hidden")
    assert errors == []


def test_shortcuts_navigate_but_never_while_typing(live_server, rows, browser):
    page, errors = _sign_in(browser, live_server)

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "id_q"
    page.keyboard.type("gp")  # typed into the search box, not a shortcut
    assert page.locator("#id_q").input_value() == "gp"
    assert page.url == f"{live_server.url}/incidents/"
    page.locator("#id_q").fill("")
    page.locator("#id_q").blur()

    page.keyboard.press("j")
    first = page.evaluate("document.activeElement.closest('tr')?.innerText || ''")
    page.keyboard.press("j")
    second = page.evaluate("document.activeElement.closest('tr')?.innerText || ''")
    assert first and second and first != second
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.closest('tr')?.innerText || ''") == first
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/incidents/*/")

    page.keyboard.press("e")
    page.wait_for_url(f"{live_server.url}/incidents/*/edit/")

    page.keyboard.press("g")
    page.keyboard.press("p")
    page.wait_for_url(f"{live_server.url}/postmortems/")

    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/incidents/new/")

    page.keyboard.press("g")
    page.keyboard.press("i")
    page.wait_for_url(f"{live_server.url}/incidents/")
    assert errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "375"])
def test_screenshots_of_the_picker_and_the_shortcuts(live_server, rows, browser, viewport):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = viewport["width"]
    page, errors = _sign_in(browser, live_server, viewport)
    page.goto(f"{live_server.url}/incidents/new/")
    page.fill("#id_title", "Card payments fail")
    page.locator("#id_services_search").focus()
    page.keyboard.type("chec")
    page.wait_for_selector("#id_services_listbox [role=option]:has-text('Checkout')")
    page.keyboard.press("Enter")
    page.keyboard.type("p")
    page.wait_for_selector("#id_services_listbox [role=option]:has-text('Payments API')")
    page.locator("#id_services_search").scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") == width
    page.screenshot(path=str(SCREENSHOTS / f"typeahead-declare-{width}.png"))

    page.keyboard.press("Escape")
    page.locator("#id_services_search").blur()
    page.keyboard.press("?")
    page.locator("#shortcuts-dialog").wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") == width
    page.screenshot(path=str(SCREENSHOTS / f"shortcuts-{width}.png"))
    assert errors == []


def test_a_time_zone_is_picked_by_typing_and_times_follow_it(live_server, rows, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = _sign_in(browser, live_server, PHONE)
    page.goto(f"{live_server.url}/me/preferences/")

    zone = page.locator("#id_time_zone_search")
    zone.focus()
    page.keyboard.type("seoul")  # filtered in the page: the zones are a fixed list
    page.wait_for_selector("#id_time_zone_listbox [role=option]:has-text('Asia/Seoul')")
    page.keyboard.press("Enter")
    assert page.eval_on_selector("#id_time_zone", "s => s.value") == "Asia/Seoul"
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    page.screenshot(path=str(SCREENSHOTS / "preferences-375.png"))
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_selector("text=Times are now shown in Asia/Seoul.")

    page.goto(f"{live_server.url}/incidents/")
    shown = page.locator("td[data-label=Detected] time").first
    assert shown.inner_text().endswith("KST")
    assert shown.get_attribute("title").endswith(" UTC")
    assert errors == []
