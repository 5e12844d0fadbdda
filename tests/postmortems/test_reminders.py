from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import Delivery, StatusUpdate
from postmortems import selectors, services
from postmortems.tasks import action_items_remind_task
from tests.factories.incidents import TeamFactory, UserFactory
from tests.factories.notifications import DestinationFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db


def test_beat_schedule_runs_the_reminder_task():
    entry = settings.CELERY_BEAT_SCHEDULE["postmortems-remind-action-items"]
    assert entry["task"] == "postmortems.tasks.action_items_remind_task"


def test_reminder_task_writes_outbox_rows_once_a_day(django_capture_on_commit_callbacks):
    rita = UserFactory(username="rita", role="responder")
    DestinationFactory()  # a Slack channel of the responders audience
    pm = started_postmortem(actor=rita)
    yesterday = timezone.localdate() - timedelta(days=1)
    services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Fix", "owner": "rita", "due_date": yesterday}
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert action_items_remind_task.apply().get() == 1
    update = StatusUpdate.objects.get(kind="reminder")
    assert "@rita" in update.message and "overdue since" in update.message
    assert Delivery.objects.filter(update=update).count() == 1
    assert callbacks  # the send task is enqueued on commit
    assert action_items_remind_task.apply().get() == 0
    assert StatusUpdate.objects.filter(kind="reminder").count() == 1


def test_completion_rates_per_team():
    rita = UserFactory(username="rita", role="responder")
    team = TeamFactory(name="Payments", slug="payments")
    team.members.add(rita)
    pm = started_postmortem(actor=rita)
    for title, status in [("a", "done"), ("b", "open"), ("c", "wont_do"), ("d", "done")]:
        services.action_item_create(
            postmortem=pm, actor=rita, data={"title": title, "owner": "rita", "status": status}
        )
    (row,) = selectors.completion_by_team(user=rita)
    assert (row.team, row.total, row.done) == ("Payments", 3, 2)
    assert round(row.rate, 2) == 0.67
