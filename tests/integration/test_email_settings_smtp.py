"""Settings → Email with a real worker and a real SMTP server (aiosmtpd): the server
an admin stores in Keel is what the worker sends **Send test email** through; a
wrong password and a refused connection read in plain words on the Email page
(the test sends log, and the pause a refused login puts on email)."""

import pytest
from django.urls import reverse

from notifications.models import ChannelPause
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.smtp import PASSWORD, USERNAME, SmtpServer
from tests.integration.conftest import wait_for
from workspace.models import DestinationTestSend

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
SMTP_PORT = 19120
CLOSED_PORT = 19121  # nothing listens there
WRONG_PASSWORD = "MARKERwrongSMTPpassword"


def _save_server(client, **changes):
    data = {
        "host": "127.0.0.1",
        "port": str(SMTP_PORT),
        "security": "none",
        "username": USERNAME,
        "password": PASSWORD,
        "from_email": "incidents@keel.test",
        "timeout": "5",
        **changes,
    }
    assert client.post(reverse("settings-email"), data).status_code == 302


def _send_test(client, destination) -> DestinationTestSend:
    before = set(DestinationTestSend.objects.values_list("pk", flat=True))
    response = client.post(reverse("settings-email-test"), {"destination": destination.pk})
    assert response.status_code == 302
    return DestinationTestSend.objects.exclude(pk__in=before).get()


def _row(test_send) -> DestinationTestSend:
    return DestinationTestSend.objects.get(pk=test_send.pk)


def test_send_test_email_goes_through_the_stored_server_and_failures_read_plainly(
    client, admin_user, start_worker, monkeypatch
):
    monkeypatch.delenv("EMAIL_HOST", raising=False)  # nothing in the environment
    client.force_login(admin_user)
    cs_list = DestinationFactory(
        audience=audience("cs"), kind="email", target="cs-team@keel.test", name="CS list"
    )
    start_worker()
    with SmtpServer(port=SMTP_PORT) as smtp:
        smtp.accept_logins = True
        _save_server(client)
        sent = _send_test(client, cs_list)
        wait_for(lambda: _row(sent).status == "sent", what="the test email sent")
        (message,) = smtp.messages
        assert message["From"] == "incidents@keel.test"
        assert message["To"] == "cs-team@keel.test"
        assert message["X-Keel-Test"] == "1"
        assert "Test message from Keel" in message.get_payload()

        # The password is changed on the server's side: Keel's stored one is refused.
        _save_server(client, password=WRONG_PASSWORD)
        refused = _send_test(client, cs_list)
        wait_for(lambda: _row(refused).last_error, what="the refused login recorded")
        words = "the mail server refused the user name or password (535"
        assert words in _row(refused).last_error
        assert words in ChannelPause.objects.get(kind="email").reason
        page = client.get(reverse("settings-email")).content.decode()
        assert page.count(words) == 2  # the pause banner and the test sends log
        assert WRONG_PASSWORD not in page
        assert len(smtp.messages) == 1

    # The server is gone (or the port is wrong): saving lifts the pause, the test retries.
    _save_server(client, port=str(CLOSED_PORT))
    assert not ChannelPause.objects.filter(kind="email").exists()
    unreachable = _send_test(client, cs_list)
    words = f"The mail server 127.0.0.1:{CLOSED_PORT} refused the connection"
    wait_for(lambda: words in _row(unreachable).last_error, what="the refused connection")
    assert _row(unreachable).status == "failed"  # retried later, not dead
    page = client.get(reverse("settings-email")).content.decode()
    assert words in page
