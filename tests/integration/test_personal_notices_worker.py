"""Issue 11's "Done when": with a real Celery worker, an action item assigned to a
person who chose Slack DM produces exactly one DM on the fake Slack server (the
worker looks the person up by email and opens the DM), and one assigned to a
person who chose email produces exactly one email with the file backend."""

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from notifications.models import Delivery, NoticeKind, SlackUserLink
from postmortems import services as pm_services
from tests.factories.incidents import UserFactory
from tests.factories.notifications import NotificationPreferenceFactory
from tests.factories.postmortems import started_postmortem
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_action_item_assigned_reaches_each_owner_once_by_their_channel(
    start_worker, fake_slack_server, tmp_path
):
    rita = UserFactory(username="rita", role="responder")
    bob = UserFactory(username="bob", role="responder")
    cara = UserFactory(username="cara", role="responder")
    NotificationPreferenceFactory(
        user=bob, kind=NoticeKind.ACTION_ITEM_ASSIGNED, channel="slack_dm"
    )
    NotificationPreferenceFactory(user=cara, kind=NoticeKind.ACTION_ITEM_ASSIGNED, channel="email")
    fake = fake_slack_server.fake
    fake.add_user("UBOB", bob.email)
    # The worker's data dir is tmp_path/data (start_worker); mail files go under it.
    mail_dir = tmp_path / "data" / "outbox-mail"
    start_worker(
        env={"KEEL_TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}
    )
    pm = started_postmortem(actor=rita)
    pm_services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Add a canary", "owner": "bob"}
    )
    pm_services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Page on 5xx", "owner": "cara"}
    )
    personal = Delivery.objects.filter(destination__user__in=[bob, cara])

    def both_sent():
        statuses = list(personal.values_list("status", flat=True))
        return len(statuses) == 2 and set(statuses) == {Delivery.Status.SENT}

    wait_for(both_sent, timeout=60, what="both personal notices sent by the worker")

    (dm,) = fake.dms("UBOB")
    assert dm["text"].startswith("Action item for you: “Add a canary”")
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert SlackUserLink.objects.get(user=bob).slack_user_id == "UBOB"

    files = [p for p in Path(mail_dir).iterdir() if p.is_file()]
    messages = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
    # The file backend writes one file per connection; each holds one message here.
    assert len(messages) == 1
    (email,) = messages
    assert email["To"] == cara.email
    assert str(email["Subject"]).endswith("Action item for you: “Page on 5xx”")
