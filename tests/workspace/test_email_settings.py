"""Settings → Email: the SMTP server stored in Keel (password encrypted, never shown),
field-level errors, "from environment", and the one mail connection every email
send uses, against a real local SMTP server (aiosmtpd)."""

import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from common.invitations import invitation_create
from notifications.channels import email as email_channel
from notifications.channels import mail_server
from notifications.channels.base import Outcome
from notifications.invitation_mail import invitation_email_send_task
from notifications.models import ChannelPause
from tests.factories.incidents import UserFactory
from tests.fakes.smtp import PASSWORD, USERNAME, SmtpServer
from workspace import email_settings, secrets
from workspace.models import EmailSettings

pytestmark = pytest.mark.django_db
SMTP_PORT = 19110  # this helper's port range
REFUSED_PORT = 19111  # nothing listens there
MARKER_PASSWORD = "MARKERsmtpPASSWORD-5kq"


def _form(**changes) -> dict:
    data = {
        "host": "127.0.0.1",
        "port": str(SMTP_PORT),
        "security": "none",
        "username": USERNAME,
        "password": PASSWORD,
        "from_email": "incidents@keel.test",
        "timeout": "5",
    }
    return {**data, **changes}


def _save(admin_user, **changes) -> EmailSettings:
    data = _form(**changes)
    return email_settings.email_settings_save(
        actor=admin_user,
        host=data["host"],
        port=int(data["port"]),
        security=data["security"],
        username=data["username"],
        password=data["password"],
        from_email=data["from_email"],
        timeout=int(data["timeout"]),
    )


def test_saved_from_the_page_encrypted_with_a_history_row(admin_client, admin_user):
    response = admin_client.post(reverse("settings-email"), _form(password=MARKER_PASSWORD))
    assert response.status_code == 302
    row = EmailSettings.objects.get()
    assert (row.host, row.port, row.security, row.timeout) == ("127.0.0.1", SMTP_PORT, "none", 5)
    assert MARKER_PASSWORD not in row.password_encrypted
    assert secrets.decrypt(row.password_encrypted) == MARKER_PASSWORD
    (history,) = row.history.all()
    assert history.history_user == admin_user
    assert history.history_change_reason == "SMTP settings saved in Settings, password changed"
    assert not hasattr(history, "password_encrypted")

    # A blank password keeps the stored one; "remove" drops it.
    admin_client.post(reverse("settings-email"), _form(password="", host="smtp.keel.test"))
    row.refresh_from_db()
    assert row.host == "smtp.keel.test"
    assert secrets.decrypt(row.password_encrypted) == MARKER_PASSWORD
    admin_client.post(reverse("settings-email"), _form(password="", clear_password="on"))
    row.refresh_from_db()
    assert row.password_encrypted == ""
    assert row.history.first().history_change_reason.endswith("password removed")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"port": "0"}, "port", "greater than or equal to 1"),
        ({"port": "70000"}, "port", "less than or equal to 65535"),
        ({"port": "smtp"}, "port", "Enter a whole number"),
        ({"host": "smtp.keel.test\r\nRCPT TO:<x@y>"}, "host", "no scheme, no port, one line"),
        ({"host": "smtp://mail.keel.test"}, "host", "no scheme, no port"),
        ({"host": "a" * 300}, "host", "at most 253 characters"),
        ({"host": ""}, "host", "This field is required"),
        ({"from_email": "not an address"}, "from_email", "valid email address"),
        ({"from_email": ""}, "from_email", "This field is required"),
        ({"username": "keel\nBcc: x"}, "username", "line break"),
        ({"username": "u" * 300}, "username", "at most 254 characters"),
        ({"password": "p" * 300}, "password", "at most 255 characters"),
        ({"timeout": "0"}, "timeout", "greater than or equal to 1"),
        ({"timeout": "600"}, "timeout", "less than or equal to 60"),
        ({"security": "starttls-maybe"}, "security", "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_field_level_error(admin_client, changes, field, words):
    response = admin_client.post(reverse("settings-email"), _form(**changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert words in response.content.decode()
    assert not EmailSettings.objects.exists()


def test_the_service_refuses_what_the_form_would(admin_user):
    from common.exceptions import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        _save(admin_user, port="99999")
    assert refused.value.field == "port"
    with pytest.raises(InvalidInput) as refused:
        _save(admin_user, host="mail.keel.test\nRCPT TO:<x@y>")
    assert refused.value.field == "host"


def test_non_admins_get_403(client):
    client.force_login(UserFactory(username="rita", role="responder"))
    assert client.get(reverse("settings-email")).status_code == 403
    assert client.post(reverse("settings-email"), _form()).status_code == 403
    assert client.post(reverse("settings-email-test"), {"destination": "1"}).status_code == 403
    assert not EmailSettings.objects.exists()


def test_the_page_says_where_mail_settings_come_from(admin_client, admin_user, settings):
    page = admin_client.get(reverse("settings-email")).content.decode()
    assert 'data-mail-source="default"' in page
    _save(admin_user, password=MARKER_PASSWORD)
    page = admin_client.get(reverse("settings-email")).content.decode()
    assert 'data-mail-source="settings"' in page
    assert '<dd data-credential="smtp_password">set</dd>' in page
    assert 'value="127.0.0.1"' in page  # the form shows what is stored, but the password
    assert MARKER_PASSWORD not in page
    assert mail_server.stored_server().host == "127.0.0.1"

    settings.KEEL_EMAIL_FROM_ENVIRONMENT = True  # EMAIL_HOST set in the environment
    page = admin_client.get(reverse("settings-email")).content.decode()
    assert 'data-mail-source="environment"' in page and "from environment" in page
    assert mail_server.stored_server() is None
    assert mail_server.from_address(None) == settings.DEFAULT_FROM_EMAIL


def test_a_password_stored_with_another_key_is_asked_again(admin_client, admin_user, settings):
    _save(admin_user)
    settings.KEEL_ENCRYPTION_KEY = "another-key-after-a-rotation"
    assert mail_server.stored_server() is None  # the environment's backend, not a bad login
    page = admin_client.get(reverse("settings-email")).content.decode()
    assert "unreadable: enter it again" in page


def test_every_email_send_uses_the_stored_server(admin_user, mailoutbox):
    """Team lists, test sends and invitations all leave through ``mail_server``."""
    _save(admin_user)
    with SmtpServer(port=SMTP_PORT) as smtp:
        smtp.accept_logins = True
        sent = email_channel.send(
            recipients=["cs@keel.test"], subject="SEV2", body="Checkout", delivery_id="42"
        )
        assert sent.outcome == Outcome.SENT, sent.error
        invitation = invitation_create(email="new@keel.test", role="viewer", actor=admin_user)
        assert invitation_email_send_task.apply(args=(invitation.pk, invitation.nonce)).get() == (
            "sent"
        )
    assert mailoutbox == []  # not the test settings' in-memory backend
    delivery, invite = smtp.messages
    assert delivery["From"] == invite["From"] == "incidents@keel.test"
    assert delivery["Message-ID"] == "<delivery-42@keel.test>"
    assert invite["To"] == "new@keel.test"
    assert len(smtp.connections_tried_auth) == 2


def test_a_wrong_password_and_a_refused_connection_in_plain_words(admin_user):
    _save(admin_user, password="not-the-password")
    with SmtpServer(port=SMTP_PORT) as smtp:
        smtp.accept_logins = True
        refused = email_channel.send(
            recipients=["cs@keel.test"], subject="s", body="b", delivery_id="1"
        )
    assert refused.outcome == Outcome.CREDENTIALS
    assert refused.error.startswith(
        "SMTP authentication failed: the mail server refused the user name or password (535"
    )
    _save(admin_user, port=str(REFUSED_PORT))
    unreachable = email_channel.send(
        recipients=["cs@keel.test"], subject="s", body="b", delivery_id="2"
    )
    assert unreachable.outcome == Outcome.RETRY
    assert unreachable.error == (
        f"The mail server 127.0.0.1:{REFUSED_PORT} refused the connection: check the host and port."
    )


def test_saving_the_server_lifts_an_email_pause(admin_client, django_capture_on_commit_callbacks):
    ChannelPause.objects.create(
        kind="email", reason="SMTP authentication failed: …", paused_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(reverse("settings-email"), _form(), follow=True)
    assert "Email was paused: it is resumed." in response.content.decode()
    assert not ChannelPause.objects.exists()


def test_the_smtp_password_never_appears_in_pages_logs_history_or_api(
    admin_client, admin_user, as_user, caplog
):
    caplog.set_level(logging.DEBUG)
    saved = admin_client.post(reverse("settings-email"), _form(password=MARKER_PASSWORD))
    refused = admin_client.post(
        reverse("settings-email"), _form(password=MARKER_PASSWORD, port="0")
    )
    row = EmailSettings.objects.get()
    pages = [saved, refused] + [
        admin_client.get(url)
        for url in (
            reverse("settings-email"),
            reverse("settings-index"),
            reverse("admin:workspace_emailsettings_change", args=[row.pk]),
            reverse("admin:workspace_emailsettings_history", args=[row.pk]),
        )
    ]
    pages.append(as_user(admin_user).get("/api/v1/incidents/"))
    seen = [page.content.decode() for page in pages]
    assert all(page.status_code in (200, 302, 400) for page in pages)
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(history.__dict__) for history in EmailSettings.history.all()]
    seen.append(repr(mail_server.stored_server()))
    for marker in (MARKER_PASSWORD, MARKER_PASSWORD[6:-4]):
        assert not [text for text in seen if marker in text], marker


def test_a_batch_session_reads_the_stored_server_once(admin_user):
    """Subscriber batches send many messages over one session: no query per message."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.channels.email_session import Session

    _save(admin_user)
    with SmtpServer(port=SMTP_PORT) as smtp, CaptureQueriesContext(connection) as queries:
        smtp.accept_logins = True
        session = Session()
        results = [
            email_channel.send(
                recipients=[f"r{n}@keel.test"],
                subject="s",
                body="b",
                delivery_id=f"b{n}",
                session=session,
            )
            for n in range(3)
        ]
        session.close()
    assert [result.outcome for result in results] == [Outcome.SENT] * 3
    assert len(smtp.messages) == 3 and session.connections == 1
    reads = [q for q in queries.captured_queries if "workspace_emailsettings" in q["sql"]]
    assert len(reads) == 1
