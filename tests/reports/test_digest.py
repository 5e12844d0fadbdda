"""The weekly digest: its content against the hand-computed fixture, one digest per
week however often the beat runs, and its delivery through the outbox engine."""

from datetime import date, timedelta

import pytest
from django.core import mail

from notifications import engine
from reports import digest
from reports.models import DigestDelivery, WeeklyDigest
from reports.outbox import DIGESTS, NOT_BY_EMAIL
from tests.factories.incidents import IncidentFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from tests.reports import fixtures

pytestmark = pytest.mark.django_db

# Wednesday 2026-10-14: the week reported is Monday 5 to Sunday 11 October; the four
# weeks before it run from 7 September.
TODAY = date(2026, 10, 14)


@pytest.fixture
def world(responder, settings):
    settings.KEEL_WEEKLY_DIGEST_AUDIENCE = "business"
    found = fixtures.build(responder)
    # The previous four weeks: one SEV3, detected 30 min after impact, recovered 90 min later.
    earlier = fixtures.T - timedelta(days=15)
    IncidentFactory(
        title="Older one",
        severity=severity("SEV3"),
        started_at=earlier - timedelta(minutes=30),
        detected_at=earlier,
        recovered_at=earlier + timedelta(minutes=90),
        sla_minutes_breached=8,
    )
    return found


def test_the_week_reported_is_the_last_full_week():
    assert digest.week_reported(date(2026, 10, 14)) == date(2026, 10, 5)
    assert digest.week_reported(date(2026, 10, 12)) == date(2026, 10, 5)  # a Monday
    assert digest.week_reported(date(2026, 10, 11)) == date(2026, 9, 28)  # a Sunday


def test_digest_content(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        written = digest.weekly_digest_post(today=TODAY)
    assert written.subject == "Keel weekly digest: 2026-10-05 to 2026-10-11"
    body = written.body
    # Last week's incidents, most severe first; the false alarm and the duplicate are
    # named as such; the private incident is not mentioned at all.
    assert f"#{world['a'].pk} SEV1 Checkout down — Retrospect (Checkout)" in body
    assert f"#{world['false_alarm'].pk} SEV1 Flaky probe — False alarm" in body
    assert f"#{world['duplicate'].pk} SEV1 Checkout errors again — Duplicate" in body
    assert "Incidents detected last week: 4" in body
    assert "Secret" not in body
    # A (10, 30) and B (20, 60) against the older one (30, 90) over four weeks.
    assert "Incidents measured: 2 · 0.25 a week" in body
    assert "Median time to detect: 15 min · 30 min" in body
    assert "Median time to recover: 45 min · 1 h 30 min" in body
    assert "Detected before customers: 50% · 100%" in body
    assert "SLA minutes breached: 40 · 2 a week" in body
    assert "Overdue action items: 1" in body
    assert "“Alert on latency” — bob, due 2026-10-10" in body


def test_running_twice_sends_once(world, django_capture_on_commit_callbacks):
    slack = DestinationFactory(audience=audience("business"), name="#business")
    with django_capture_on_commit_callbacks(execute=False) as first:
        assert digest.weekly_digest_post(today=TODAY) is not None
    with django_capture_on_commit_callbacks(execute=False) as second:
        assert digest.weekly_digest_post(today=TODAY) is None
        assert digest.weekly_digest_post(today=TODAY + timedelta(days=2)) is None
    assert WeeklyDigest.objects.count() == 1
    deliveries = DigestDelivery.objects.all()
    assert {d.destination_id for d in deliveries} == {
        d.pk for d in audience("business").destinations.filter(user__isnull=True)
    }
    assert slack.pk in {d.destination_id for d in deliveries}
    assert len(first) == 1 and len(second) == 0


def test_the_digest_is_sent_by_the_engine_by_email(world, django_capture_on_commit_callbacks):
    slack = DestinationFactory(audience=audience("business"), name="#business")
    with django_capture_on_commit_callbacks():
        digest.weekly_digest_post(today=TODAY)
    # The on-commit tasks ran eagerly; run the engine again: nothing is sent twice.
    for delivery in DigestDelivery.objects.all():
        engine.attempt(DIGESTS, delivery.pk)
    email_row = DigestDelivery.objects.get(destination__kind="email")
    assert email_row.status == DigestDelivery.Status.SENT
    sent = [m for m in mail.outbox if m.extra_headers["X-Keel-Delivery"] == str(email_row.pk)]
    assert len(sent) == 1
    assert sent[0].subject == "Keel weekly digest: 2026-10-05 to 2026-10-11"
    assert sent[0].to == ["b@x.test"]
    slack_row = DigestDelivery.objects.get(destination=slack)
    assert slack_row.status == DigestDelivery.Status.SKIPPED
    assert slack_row.last_error == NOT_BY_EMAIL


def test_no_audience_no_digest(settings):
    settings.KEEL_WEEKLY_DIGEST_AUDIENCE = ""
    assert digest.weekly_digest_post(today=TODAY) is None
    assert not WeeklyDigest.objects.exists()
