"""Action item reminders through a real worker and beat: the owner is told in Slack,
once per item per day however often beat runs.

The worker and this process use a Redis of the test's own (``spare_redis``), so no
other suite's queue is purged or consumed.
"""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import Delivery, Destination, StatusUpdate
from postmortems import services
from postmortems.models import ActionItemReminder
from tests.factories.incidents import UserFactory
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.postmortems import started_postmortem
from tests.integration.conftest import (  # noqa: F401 - fixtures used by name
    fake_slack_server,
    integration_services,
    spare_redis,
    start_worker,
    use_broker,
    wait_for,
)

_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    # Decided before any fixture runs, so a skipped run does not flush the test database.
    pytest.mark.skipif(
        not _POSTGRES and os.environ.get("KEEL_REQUIRE_SERVICES") != "1",
        reason="needs PostgreSQL and Redis (real worker processes)",
    ),
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def private_broker(spare_redis, use_broker, monkeypatch):  # noqa: F811
    """Before ``start_worker`` purges anything: this process produces to the spare Redis."""
    use_broker(spare_redis.url)
    monkeypatch.setenv("KEEL_ACTION_ITEM_REMINDER_SECONDS", "1")
    return spare_redis.url


def test_beat_reminds_the_owner_once_a_day_through_slack(
    private_broker,
    start_worker,  # noqa: F811
    fake_slack_server,  # noqa: F811
):
    rita = UserFactory(username="rita", role="responder")
    DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)
    pm = started_postmortem(actor=rita)
    overdue = timezone.localdate() - timedelta(days=3)
    services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Add a pool alert", "owner": "rita",
                                         "due_date": overdue}
    )  # fmt: skip

    worker = start_worker(redis_url=private_broker)

    def reminded():
        update = StatusUpdate.objects.filter(kind="reminder", incident=pm.incident).first()
        if update is None:
            return None
        sent = Delivery.objects.filter(update=update, status=Delivery.Status.SENT).exists()
        return update if sent else None

    update = wait_for(reminded, timeout=60, what="the reminder to be delivered")
    assert "@rita" in update.message and "Add a pool alert" in update.message
    texts = [m.get("text", "") for m in fake_slack_server.fake.posted()]
    assert any("Add a pool alert" in text for text in texts), texts

    # Beat keeps running the task every second: still one reminder today.
    def runs() -> int:
        return sum(
            1
            for line in worker.log().splitlines()
            if "action_items_remind_task" in line and "succeeded" in line
        )

    seen = runs()
    wait_for(lambda: runs() >= seen + 3, timeout=30, what="three more beat runs")
    assert ActionItemReminder.objects.count() == 1
    assert StatusUpdate.objects.filter(kind="reminder").count() == 1
    assert Delivery.objects.filter(update=update).count() == 1
