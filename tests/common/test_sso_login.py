"""Single sign-on against a real OpenID Connect provider: django-oidc-provider in its
own process (tests/fakes/oidc_provider), the whole authorization-code flow with PKCE —
Keel's start view, the provider's sign-in form, the code back to Keel's callback,
Keel's server-to-server token, userinfo and key calls — then the group → role mapping,
just-in-time accounts, refusals, and password sign-in turned off."""

import io
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from common import roles
from common.people_models import AccountEvent, Invitation
from tests.factories.incidents import UserFactory
from tests.fakes.oidc_provider.process import keel_settings, running_provider

PORT = 19801
KEEL = "http://testserver"
PEOPLE = [
    {"username": "grace", "password": "grace-pass-1", "email": "grace@example.test",
     "first_name": "Grace", "last_name": "Hopper", "groups": ["keel-admins", "sre"]},
    {"username": "linus", "password": "linus-pass-1", "email": "linus@example.test",
     "groups": ["sre"]},
    {"username": "sam", "password": "sam-pass-1", "email": "Sam@Example.test",
     "groups": ["support"]},
    {"username": "mallory", "password": "mallory-pass-1", "email": "mallory@example.test",
     "groups": ["marketing"]},
]  # fmt: skip

User = get_user_model()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("oidc-provider")
    with running_provider(
        port=PORT, workdir=workdir, redirect_uri=f"{KEEL}/oidc/callback/", users=PEOPLE
    ) as url:
        yield url


@pytest.fixture
def sso(settings, provider, db):
    for name, value in keel_settings(provider).items():
        setattr(settings, name, value)
    return provider


def sign_in(client, username: str, password: str):
    """Drive the code flow: Keel's client on Keel's side, a browser-like session on the
    provider's. Returns Keel's answer to the callback."""
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    browser = requests.Session()
    location = start["Location"]
    for _ in range(10):
        if location.startswith(KEEL):
            break
        answer = browser.get(location, allow_redirects=False, timeout=10)
        if answer.status_code == 200 and 'name="password"' in answer.text:
            answer = browser.post(
                answer.url,
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": browser.cookies["provider_csrftoken"],
                    "next": re.search(r'name="next" value="([^"]*)"', answer.text)
                    .group(1)
                    .replace("&amp;", "&"),
                },
                allow_redirects=False,
                timeout=10,
            )
        assert answer.status_code == 302, answer.text[:500]
        location = requests.compat.urljoin(answer.url, answer.headers["Location"])
    else:
        raise AssertionError("the flow never came back to Keel")
    callback = urlsplit(location)
    assert callback.path == "/oidc/callback/" and "code=" in callback.query
    return client.get(f"{callback.path}?{callback.query}")


def _signed_in_as(client):
    return client.get("/me/preferences/").wsgi_request.user


def test_first_sign_in_creates_the_person_with_the_role_of_their_groups(client, sso):
    answer = sign_in(client, "grace", "grace-pass-1")
    assert answer.status_code == 302 and answer["Location"] == "/"
    grace = User.objects.get(email="grace@example.test")
    assert _signed_in_as(client) == grace
    assert (grace.first_name, grace.last_name, grace.username) == ("Grace", "Hopper", "grace")
    assert not grace.has_usable_password()
    assert roles.is_admin(grace) and grace.is_staff  # keel-admins beats sre
    kinds = list(grace.account_events.order_by("pk").values_list("kind", "source"))
    assert kinds == [
        ("created", "sso"),
        ("role_changed", "sso"),
        ("sso_login", "sso"),
    ]
    assert grace.account_events.get(kind="sso_login").detail == "Signed in as Admin"


def test_the_role_follows_the_groups_at_every_sign_in(client, sso):
    UserFactory(username="keeper", role="admin")  # so linus is not the last admin
    linus = UserFactory(username="linus_t", email="linus@example.test", role="admin")
    answer = sign_in(client, "linus", "linus-pass-1")
    assert answer.status_code == 302 and answer["Location"] == "/"
    linus.refresh_from_db()
    linus._keel_groups = None
    assert _signed_in_as(client) == linus
    assert set(linus.groups.values_list("name", flat=True)) == {roles.RESPONDERS}
    assert not linus.is_staff and not roles.is_admin(linus)
    change = linus.account_events.get(kind="role_changed")
    assert change.detail == "Admin → Responder" and change.source == "sso"
    assert change.actor is None
    assert User.objects.filter(email__iexact="linus@example.test").count() == 1


def test_email_matches_whatever_its_case_and_a_second_sign_in_changes_nothing(client, sso):
    sam = UserFactory(username="sam", email="sam@example.test", role="viewer")
    sign_in(client, "sam", "sam-pass-1")
    client.logout()
    sign_in(client, "sam", "sam-pass-1")
    assert _signed_in_as(client) == sam
    assert sam.account_events.filter(kind="role_changed").count() == 0
    assert sam.account_events.filter(kind="sso_login").count() == 2


def test_someone_outside_the_allowed_groups_is_refused_in_plain_words(client, sso):
    answer = sign_in(client, "mallory", "mallory-pass-1")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    page = client.get("/login/").content.decode()
    assert "not in a group allowed to use Keel" in page
    assert not _signed_in_as(client).is_authenticated
    assert not User.objects.filter(email="mallory@example.test").exists()
    refusal = AccountEvent.objects.get(kind="sso_refused")
    assert refusal.email == "mallory@example.test" and refusal.user is None


def test_a_deactivated_account_cannot_sign_in_with_sso(client, sso):
    UserFactory(username="grace", email="grace@example.test", is_active=False)
    answer = sign_in(client, "grace", "grace-pass-1")
    assert answer["Location"] == "/login/"
    assert "Your Keel account is deactivated." in client.get("/login/").content.decode()
    assert not _signed_in_as(client).is_authenticated


def test_an_invited_person_signing_in_with_sso_spends_the_invitation(client, sso, admin_user):
    from common.invitations import invitation_create

    invitation = invitation_create(email="linus@example.test", role="viewer", actor=admin_user)
    sign_in(client, "linus", "linus-pass-1")
    invitation.refresh_from_db()
    linus = User.objects.get(email="linus@example.test")
    assert invitation.state == "accepted" and invitation.accepted_user == linus
    assert Invitation.objects.get(pk=invitation.pk).history.first().history_change_reason == (
        "Accepted (Single sign-on)"
    )
    assert roles.can_drive_incidents(linus)  # the groups (sre) decide, not the invite


def test_the_sign_in_page_offers_the_provider_when_configured(client, sso):
    page = client.get("/login/").content.decode()
    assert "Sign in with Local IdP" in page and 'id="login-form"' in page


def test_without_sso_the_sign_in_page_and_its_endpoints_are_as_before(client, db):
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'id="login-form"' in page
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_with_password_sign_in_off_only_sso_is_offered_and_passwords_are_refused(
    client, sso, settings
):
    settings.KEEL_PASSWORD_LOGIN = False
    UserFactory(username="pat", password="pat-pass-123456")
    page = client.get("/login/").content.decode()
    assert "Sign in with Local IdP" in page and 'id="login-form"' not in page
    refused = client.post("/login/", {"username": "pat", "password": "pat-pass-123456"})
    assert refused.status_code == 403
    assert "Password sign-in is turned off here" in refused.content.decode()
    assert not _signed_in_as(client).is_authenticated
    admin_form = client.post(
        "/admin/login/", {"username": "pat", "password": "pat-pass-123456", "next": "/admin/"}
    )
    assert admin_form.status_code == 200  # the admin's form again: the backend said no
    assert not _signed_in_as(client).is_authenticated
    assert sign_in(client, "sam", "sam-pass-1")["Location"] == "/"


def test_sso_discover_prints_the_endpoint_variables_from_the_provider(provider):
    out = io.StringIO()
    call_command("sso_discover", provider, stdout=out)
    assert out.getvalue().splitlines() == [
        f"KEEL_OIDC_AUTHORIZATION_ENDPOINT={provider}/authorize",
        f"KEEL_OIDC_TOKEN_ENDPOINT={provider}/token",
        f"KEEL_OIDC_USERINFO_ENDPOINT={provider}/userinfo",
        f"KEEL_OIDC_JWKS_ENDPOINT={provider}/jwks",
    ]
    with pytest.raises(CommandError, match="Could not read"):
        call_command("sso_discover", f"{provider}/nowhere")


def test_password_sign_in_cannot_be_turned_off_without_sso():
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KEEL_OIDC_", "DJANGO_KEEL_OIDC_"))
    }
    env.update({"KEEL_PASSWORD_LOGIN": "0", "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "KEEL_PASSWORD_LOGIN=0 needs single sign-on configured" in result.stderr
