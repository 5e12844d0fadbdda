"""/settings/people/ (admins): the list with roles and last sign-in, invitations by
email with a one-time link (only its hash stored; the email through the email
channel), role changes, deactivation (no sign-in, no session, no API token; the
history stays), each write with its account event or history row."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.test import APIClient

from common import invitations, roles
from common.people_models import AccountEvent, Invitation
from notifications.invitation_mail import invitation_email_send_task
from tests.factories.common import api_key
from tests.factories.incidents import UserFactory

PEOPLE = "/settings/people/"
User = get_user_model()


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def invite(client, django_capture_on_commit_callbacks, email="new@example.test", role="responder"):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(PEOPLE, {"email": email, "role": role})
    return response, callbacks


def send_email(invitation) -> str:
    """Run the email task as the worker would; return the link in the email."""
    invitation.refresh_from_db()
    assert invitation_email_send_task.apply(args=(invitation.pk, invitation.nonce)).get() == "sent"
    body = mail.outbox[-1].body
    return re.search(r"http://\S+/invitations/(\S+)/", body).group(0)


def password_sign_in(client, username: str, password: str) -> bool:
    client.post("/login/", {"username": username, "password": password})
    return client.get("/me/preferences/").wsgi_request.user.is_authenticated


def path_of(link: str) -> str:
    return link.split("://", 1)[1].partition("/")[2].join(["/", ""])


def test_only_admins_see_the_people_page(client, responder, admin_user):
    assert client.get(PEOPLE).status_code == 302
    client.force_login(responder)
    assert client.get(PEOPLE).status_code == 403
    assert client.post(PEOPLE, {"email": "x@example.test", "role": "admin"}).status_code == 403
    assert client.post(f"/settings/people/{admin_user.pk}/deactivate/").status_code == 403
    assert not Invitation.objects.exists()


def test_the_list_shows_each_person_with_role_and_last_sign_in(
    client, admin, responder, viewer, django_assert_max_num_queries
):
    for n in range(10):
        UserFactory(username=f"extra{n}", role="responder")
    with django_assert_max_num_queries(14):
        page = client.get(PEOPLE).content.decode()
    assert "rita" in page and "victor" in page and "extra9" in page
    row = re.search(rf'<tr data-person="{responder.pk}">.*?</tr>', page, re.S).group(0)
    assert '<option value="responder" selected>' in row and "never" in row


def test_an_invitation_emails_a_one_time_link_and_stores_only_its_hash(
    client, admin, django_capture_on_commit_callbacks
):
    response, callbacks = invite(client, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and len(callbacks) == 1  # the email leaves after commit
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.test",
        "responder",
        admin,
    )
    link = send_email(invitation)
    token = link.rstrip("/").rsplit("/", 1)[1]
    (message,) = mail.outbox
    assert message.to == ["new@example.test"] and admin.get_full_name() in message.body
    invitation.refresh_from_db()
    assert invitation.email_status == "sent"
    assert invitation.token_hash == invitations.hash_token(token)
    stored = [str(value) for value in Invitation.objects.values().get().values()]
    history = [str(v) for row in Invitation.history.values() for v in row.values()]
    assert token not in " ".join(stored + history)
    created = invitation.history.earliest("history_date")
    assert created.history_user == admin and created.history_change_reason == "Invited as Responder"
    assert invitation.history.latest("history_date").history_change_reason == "Email sent"
    assert AccountEvent.objects.get(kind="invited").detail == "As Responder"
    # A duplicate task finds the email sent.
    assert invitation_email_send_task.apply(args=(invitation.pk, invitation.nonce)).get() == (
        "already sent"
    )
    assert len(mail.outbox) == 1


def test_accepting_sets_a_password_and_the_role_and_spends_the_link(
    client, admin, django_capture_on_commit_callbacks
):
    invite(client, django_capture_on_commit_callbacks)
    link = send_email(Invitation.objects.get())
    client.logout()
    page = client.get(path_of(link))
    assert page.status_code == 200 and "invited as <strong>Responder</strong>" in (
        page.content.decode()
    )
    assert "no-store" in page["Cache-Control"]
    weak = client.post(
        path_of(link), {"username": "newbie", "password": "123", "password_again": "123"}
    )
    assert weak.status_code == 400 and "Password: This password is too short" in (
        weak.content.decode()
    )
    accepted = client.post(
        path_of(link),
        {
            "username": "newbie",
            "password": "long-enough-pw-9",
            "password_again": "long-enough-pw-9",
        },
    )
    assert accepted.status_code == 302 and accepted["Location"] == "/login/"
    newbie = User.objects.get(username="newbie")
    assert newbie.email == "new@example.test" and roles.can_drive_incidents(newbie)
    assert password_sign_in(client, "newbie", "long-enough-pw-9")
    client.logout()
    assert client.get(path_of(link)).status_code == 410
    kinds = set(newbie.account_events.values_list("kind", flat=True))
    assert kinds == {"created", "role_changed", "invitation_accepted"}


def test_accept_errors_name_their_field(client, admin, django_capture_on_commit_callbacks):
    UserFactory(username="taken")
    invite(client, django_capture_on_commit_callbacks)
    link = send_email(Invitation.objects.get())
    client.logout()
    for data, message in [
        ({"username": "taken"}, "Username: taken is taken; choose another."),
        ({"username": "bad name!"}, "Username: letters, digits and @ . + - _ only."),
        ({"username": "x" * 151}, "Ensure this value has at most 150 characters"),
        ({"password_again": "other-long-pw-9"}, "Password (again): the two passwords differ."),
    ]:
        body = {"username": "fresh", "password": "long-enough-pw-9"}
        body["password_again"] = body["password"]
        answer = client.post(path_of(link), {**body, **data})
        assert answer.status_code == 400 and message in answer.content.decode(), data
    assert not User.objects.filter(username="fresh").exists()


def test_invite_errors_name_their_field(client, admin, viewer, django_capture_on_commit_callbacks):
    for email, message in [
        ("not-an-email", "Enter a valid email address."),
        ("a" * 250 + "@example.test", "Ensure this value has at most 254 characters"),
        (viewer.email, f"Email: {viewer.email} already has a Keel account."),
    ]:
        response, _ = invite(client, django_capture_on_commit_callbacks, email=email)
        assert response.status_code == 400 and message in response.content.decode(), email
    invite(client, django_capture_on_commit_callbacks, email="twice@example.test")
    again, _ = invite(client, django_capture_on_commit_callbacks, email="Twice@Example.test")
    assert "already has an open invitation; resend it instead" in again.content.decode()
    bad_role = client.post(PEOPLE, {"email": "r@example.test", "role": "owner"})
    assert bad_role.status_code == 400 and "Select a valid choice" in bad_role.content.decode()
    assert Invitation.objects.count() == 1


def test_resend_makes_a_new_link_and_ends_the_old_one(
    client, admin, django_capture_on_commit_callbacks
):
    invite(client, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    old = send_email(invitation)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/settings/people/invitations/{invitation.pk}/resend/")
    new = send_email(invitation)
    assert old != new
    client.logout()
    assert client.get(path_of(old)).status_code == 410
    assert client.get(path_of(new)).status_code == 200


def test_a_revoked_invitation_link_is_dead(client, admin, django_capture_on_commit_callbacks):
    invite(client, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    link = send_email(invitation)
    client.post(f"/settings/people/invitations/{invitation.pk}/revoke/")
    assert client.get(path_of(link)).status_code == 410
    assert invitation_email_send_task.apply(args=(invitation.pk, invitation.nonce)).get() == (
        "skipped"
    )
    assert AccountEvent.objects.filter(kind="invitation_revoked").count() == 1


def test_changing_a_role_writes_its_event(client, admin, viewer):
    response = client.post(f"/settings/people/{viewer.pk}/role/", {"role": "responder"})
    assert response.status_code == 302
    viewer._keel_groups = None
    assert set(viewer.groups.values_list("name", flat=True)) == {roles.RESPONDERS}
    event = AccountEvent.objects.get(kind="role_changed", user=viewer)
    assert event.actor == admin and event.detail == "Viewer (CS, business) → Responder"
    client.post(f"/settings/people/{viewer.pk}/role/", {"role": "admin"})
    viewer.refresh_from_db()
    assert viewer.is_staff and roles.is_admin(viewer)


def test_the_last_admin_keeps_the_role(client, db):
    only = UserFactory(username="solo", role="admin")
    client.force_login(only)
    client.post(f"/settings/people/{only.pk}/role/", {"role": "viewer"})
    page = client.get(PEOPLE, follow=True).content.decode()
    assert "solo is the last admin: make someone else admin first." in page
    only._keel_groups = None
    assert roles.is_admin(only)


def test_a_deactivated_person_cannot_sign_in_and_their_session_and_tokens_stop(
    client, admin, responder
):
    other = type(client)()
    other.force_login(responder)
    key = api_key(responder)
    response = client.post(f"/settings/people/{responder.pk}/deactivate/")
    assert response.status_code == 302
    responder.refresh_from_db()
    assert not responder.is_active and User.objects.filter(pk=responder.pk).exists()
    assert other.get("/").status_code == 302  # the open session is over
    assert not password_sign_in(type(client)(), "rita", "keel-test-pass")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/incidents/").status_code == 401
    event = AccountEvent.objects.get(kind="deactivated")
    assert event.user == responder and event.actor == admin
    assert "deactivated" in client.get(PEOPLE).content.decode()
    client.post(f"/settings/people/{responder.pk}/reactivate/")
    responder.refresh_from_db()
    assert responder.is_active
    assert AccountEvent.objects.filter(kind="reactivated", user=responder).exists()


def test_an_admin_cannot_deactivate_themselves(client, admin):
    client.post(f"/settings/people/{admin.pk}/deactivate/")
    admin.refresh_from_db()
    assert admin.is_active
    assert "You cannot deactivate your own account." in client.get(PEOPLE).content.decode()


def test_the_sweep_queues_again_only_emails_whose_task_was_lost(
    client, admin, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.invitation_mail import INVITATION_SWEEP_AFTER, invitation_emails_sweep_task

    for email in ("lost@example.test", "fresh@example.test", "sent@example.test"):
        invite(client, django_capture_on_commit_callbacks, email=email)
    long_ago = timezone.now() - INVITATION_SWEEP_AFTER - timedelta(minutes=1)
    for invitation in Invitation.objects.exclude(email="fresh@example.test"):
        invitation.email_queued_at = long_ago
        invitation.save()
    send_email(Invitation.objects.get(email="sent@example.test"))
    stuck = invitations.invitations_email_stuck(older_than=INVITATION_SWEEP_AFTER)
    assert [row.email for row in stuck] == ["lost@example.test"]
    assert invitation_emails_sweep_task.apply().get() == 1


def test_with_password_sign_in_off_the_link_leads_to_sso_and_sets_no_password(
    client, admin, settings, django_capture_on_commit_callbacks
):
    invite(client, django_capture_on_commit_callbacks)
    link = send_email(Invitation.objects.get())
    client.logout()
    settings.OIDC_RP_CLIENT_ID = "keel"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example.test/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://idp.example.test/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://idp.example.test/userinfo"
    settings.KEEL_SSO_PROVIDER_NAME = "Okta"
    settings.KEEL_PASSWORD_LOGIN = False
    page = client.get(path_of(link)).content.decode()
    assert "Sign in with Okta" in page and 'id="accept-form"' not in page
    body = {"username": "sneaky", "password": "long-enough-pw-9"}
    client.post(path_of(link), {**body, "password_again": body["password"]})
    assert not User.objects.filter(username="sneaky").exists()
    assert Invitation.objects.get().state == "open"
