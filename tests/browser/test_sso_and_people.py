"""In Chromium: the sign-in page offers the local OpenID Connect provider; an admin
signs in through it (the provider's own sign-in form), lands signed in, opens the
people page, invites someone, and at 375 px nothing scrolls sideways.
KEEL_SCREENSHOT_DIR=dir keeps the screenshots (1366 and 375 px) for a person to see."""

import os
from pathlib import Path

import pytest

from common.people_models import Invitation
from tests.factories.incidents import UserFactory
from tests.fakes.oidc_provider.process import keel_settings, running_provider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PORT = 19803
SCREENSHOTS = os.environ.get("KEEL_SCREENSHOT_DIR", "")
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture
def sso(live_server, settings, tmp_path, transactional_db):
    people = [
        {"username": "grace", "password": "grace-pass-1", "email": "grace@example.test",
         "first_name": "Grace", "last_name": "Hopper", "groups": ["keel-admins"]},
    ]  # fmt: skip
    for n, role in enumerate(["responder", "viewer", "responder"]):
        UserFactory(username=f"person{n}", role=role)
    with running_provider(
        port=PORT,
        workdir=tmp_path,
        redirect_uri=f"{live_server.url}/oidc/callback/",
        users=people,
    ) as url:
        for name, value in keel_settings(url).items():
            setattr(settings, name, value)
        yield url


def _shoot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


def test_an_admin_signs_in_with_sso_and_invites_someone(live_server, sso, browser):
    page = browser.new_page(viewport=WIDE)
    page.goto(f"{live_server.url}/login/")
    button = page.get_by_role("link", name="Sign in with Local IdP")
    assert button.is_visible()
    _shoot(page, "login-sso-1366")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    _shoot(page, "login-sso-375")
    page.set_viewport_size(WIDE)

    button.click()
    page.wait_for_url(f"{sso}/accounts/login/**")
    page.fill("#id_username", "grace")
    page.fill("#id_password", "grace-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    page.goto(f"{live_server.url}/settings/people/")
    assert page.locator("h1").inner_text() == "People"
    page.fill("#id_email", "newcomer@example.test")
    page.select_option("#id_role", "responder")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector("text=Invited newcomer@example.test")
    invited = page.locator("tr[data-invitation]")
    assert invited.count() == 1 and "newcomer@example.test" in invited.inner_text()
    assert Invitation.objects.get().role == "responder"
    grace_row = page.locator("tr", has_text="grace@example.test")
    assert grace_row.locator("select").input_value() == "admin"
    _shoot(page, "people-1366")

    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    _shoot(page, "people-375")
