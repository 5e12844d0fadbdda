"""Sign-in throttling and lockout (django-axes) on /login/ and /admin/login/, by
account and by client address; the 429 page; the admin unlock and its audit row."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.admin.models import LogEntry
from django.test import Client

from tests.factories.incidents import UserFactory

PASSWORD = "keel-test-pass"
FORMS = {
    "/login/": {"username": "username", "password": "password"},
    "/admin/login/": {"username": "username", "password": "password"},
}


def _sign_in(client: Client, path: str, username: str, password: str, address="192.0.2.10"):
    return client.post(
        path, {"username": username, "password": password, "next": ""}, REMOTE_ADDR=address
    )


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="admin")


@pytest.mark.parametrize("path", list(FORMS))
def test_an_account_is_locked_after_the_limit_even_with_the_right_password(settings, rita, path):
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        response = _sign_in(client, path, "rita", f"wrong-{attempt}", address=f"192.0.2.{attempt}")
        assert response.status_code in (200, 429)  # the form again, until the last one
    # From yet another address, with the right password: still locked (by account).
    response = _sign_in(client, path, "rita", PASSWORD, address="198.51.100.77")
    assert response.status_code == 429
    assert not _signed_in(client)
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "Try again after" in page
    assert "UTC" in page
    assert AccessFailureLog.objects.filter(username="rita").count() >= settings.AXES_FAILURE_LIMIT
    assert PASSWORD not in str(list(AccessAttempt.objects.values()))


def test_an_address_is_locked_after_trying_many_accounts(settings, db):
    UserFactory(username="bob", role="responder")
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "/login/", f"guess{n}", "nope", address="203.0.113.5")
    # bob's right password from that address is refused (the address is locked)...
    assert _sign_in(client, "/login/", "bob", PASSWORD, address="203.0.113.5").status_code == 429
    # ...and accepted from another.
    other = Client()
    response = _sign_in(other, "/login/", "bob", PASSWORD, address="203.0.113.6")
    assert response.status_code == 302 and _signed_in(other)


def test_below_the_limit_a_right_password_signs_in_and_resets_the_count(settings, rita):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, "/login/", "rita", "wrong").status_code == 200
    assert _sign_in(client, "/login/", "rita", PASSWORD).status_code == 302
    assert _signed_in(client)
    assert AccessAttempt.objects.filter(username="rita").count() == 0


def test_the_admin_unlocks_and_leaves_an_audit_row(settings, rita, db):
    ada = UserFactory(username="ada", role="admin")
    ada.is_superuser = True
    ada.save(update_fields=["is_superuser"])
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "/login/", "rita", "wrong")
    assert _sign_in(client, "/login/", "rita", PASSWORD).status_code == 429

    staff = Client()
    staff.force_login(ada)
    page = staff.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "rita" in page.content.decode()
    ids = list(AccessAttempt.objects.filter(username="rita").values_list("pk", flat=True))
    response = staff.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": ids}
    )
    assert response.status_code == 302
    assert AccessAttempt.objects.filter(username="rita").count() == 0
    entry = LogEntry.objects.get(user=ada, object_id=str(ids[0]))
    assert entry.change_message == "Unlocked sign-in (failure counters cleared)."
    # The failure history stays for the audit.
    assert AccessFailureLog.objects.filter(username="rita").exists()

    fresh = Client()
    assert _sign_in(fresh, "/login/", "rita", PASSWORD).status_code == 302


def test_a_locked_out_sign_in_is_logged(settings, rita, caplog):
    client = Client()
    with caplog.at_level("WARNING", logger="keel.security"):
        for _ in range(settings.AXES_FAILURE_LIMIT + 1):
            _sign_in(client, "/login/", "rita", "wrong")
    assert any("sign-in locked out username=rita" in r.getMessage() for r in caplog.records)


def test_a_forged_forwarded_for_does_not_dodge_the_address_lock(settings, db):
    UserFactory(username="bob", role="responder")
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/login/",
            {"username": f"guess{n}", "password": "x"},
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = client.post(
        "/login/",
        {"username": "bob", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="10.0.0.99",
    )
    assert response.status_code == 429
