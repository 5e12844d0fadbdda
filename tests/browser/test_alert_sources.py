"""/settings/alert-sources/ in Chromium: an admin creates a source and copies its key
once, edits a rule and reads the payload log; nothing scrolls sideways at 375 px."""

import json
import urllib.request

import pytest

from tests.factories.incidents import UserFactory
from tests.incidents.alert_payloads import am_alert, am_notification, k8s_labels

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "keel-test-pass"
SCREENS = {"1366": {"width": 1366, "height": 900}, "375": {"width": 375, "height": 800}}


@pytest.fixture
def admin(transactional_db):
    user = UserFactory(username="ada", role="admin")
    user.set_password(PASSWORD)
    user.save()
    return user


def _post_alerts(url: str, key: str) -> int:
    body = am_notification(*[am_alert(f"fp{i}", **k8s_labels(i)) for i in range(3)])
    request = urllib.request.Request(
        f"{url}/api/v1/integrations/alertmanager/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_an_admin_creates_a_source_uses_its_key_and_reads_its_log(
    live_server, admin, browser, tmp_path
):
    page = browser.new_page(viewport=SCREENS["1366"])
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    page.goto(f"{live_server.url}/settings/alert-sources/")
    page.select_option("#id_kind", "alertmanager")
    page.fill("#id_name", "prod-eu")
    page.click("text=Create source")
    key = page.input_value("#source-key")
    assert key.startswith("keelsrc_")
    assert _post_alerts(live_server.url, key) == 200

    page.goto(f"{live_server.url}/settings/alert-sources/")
    assert key not in page.content()
    page.click("text=Alertmanager prod-eu")
    page.fill("#id_resolve_hold_seconds", "120")
    page.click("text=Save rules")
    assert page.input_value("#id_resolve_hold_seconds") == "120"
    assert "200 declared" in page.inner_text(".alert-payloads")

    for name, viewport in SCREENS.items():
        page.set_viewport_size(viewport)
        for label, path in [("list", "/settings/alert-sources/"), ("detail", page.url)]:
            page.goto(path if path.startswith("http") else f"{live_server.url}{path}")
            if name == "375":
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width == viewport["width"], (label, width)
            page.screenshot(
                path=str(tmp_path / f"alert-sources-{label}-{name}.png"), full_page=True
            )
