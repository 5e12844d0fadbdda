"""`manage.py replay_deliveries`: the failed and dead deliveries of a window, replayed
through the Replay button's service (refusals said and audited); a dry run changes nothing."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications import services
from notifications.models import Delivery, Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db
Status = Delivery.Status


@pytest.fixture
def deliveries(responder):
    """Three stuck deliveries of one update (CS email, business email, a disabled
    webhook) and one sent; one of the stuck ones is from last week."""
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV4"), actor=responder
    )
    cs = DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, target="cs@x.test"
    )
    business = DestinationFactory(
        audience=audience("business"), kind=Destination.Kind.EMAIL, target="biz@x.test"
    )
    gone = DestinationFactory(
        audience=audience("cs"),
        kind=Destination.Kind.WEBHOOK,
        target="https://hooks.x.test/keel",
        enabled=False,
        disabled_reason="410 Gone",
    )
    sent = DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, target="cs-2@x.test"
    )
    update = services.update_post(
        incident=incident, message="Rolling back.", actor=responder, audiences=["cs", "business"]
    )
    rows = {row.destination_id: row for row in update.deliveries.all()}
    Delivery.objects.filter(pk=rows[cs.pk].pk).update(status=Status.DEAD, failure="transient")
    Delivery.objects.filter(pk=rows[business.pk].pk).update(
        status=Status.FAILED, created_at=timezone.now() - timedelta(days=7)
    )
    Delivery.objects.filter(pk=rows[gone.pk].pk).update(status=Status.DEAD)
    Delivery.objects.filter(pk=rows[sent.pk].pk).update(status=Status.SENT)
    return {
        "cs": rows[cs.pk],
        "business": rows[business.pk],
        "gone": rows[gone.pk],
        "sent": rows[sent.pk],
        "incident": incident,
    }


def replay(*args) -> str:
    err = io.StringIO()
    call_command("replay_deliveries", *args, "--as", "rita", stderr=err)
    return err.getvalue()


def statuses(deliveries) -> dict:
    return {
        name: Delivery.objects.get(pk=row.pk).status
        for name, row in deliveries.items()
        if name != "incident"
    }


def test_a_dry_run_checks_every_delivery_and_changes_nothing(deliveries):
    before = statuses(deliveries)
    events = TimelineEvent.objects.count()

    out = replay("--since", (timezone.now() - timedelta(days=1)).isoformat(), "--dry-run")

    assert "Would replay 1 of 2 deliveries." in out
    assert "1 refused: " in out and "disabled (410 Gone)" in out
    assert statuses(deliveries) == before
    assert TimelineEvent.objects.count() == events


def test_the_window_and_audience_choose_what_is_replayed_with_refusals_audited(deliveries):
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    out = replay("--since", since, "--audience", "cs")

    assert "Replayed 1 of 2 deliveries." in out and "disabled (410 Gone)" in out
    assert statuses(deliveries) == {
        "cs": Status.PENDING,
        "business": Status.FAILED,  # older than the window, and another audience
        "gone": Status.DEAD,
        "sent": Status.SENT,
    }
    texts = list(deliveries["incident"].events.values_list("text", flat=True))
    assert any(t.startswith("Replayed delivery to") for t in texts)
    assert any(t.startswith("Replay of the delivery to") and "refused" in t for t in texts)

    out = replay("--since", "2020-01-01", "--status", "failed")
    assert "Replayed 1 of 1 deliveries." in out
    assert statuses(deliveries)["business"] == Status.PENDING


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not an ISO 8601"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until must be after --since"),
        (["--since", "2026-01-01", "--status", "sent"], "--status: sent; choose from"),
        (["--since", "2026-01-01", "--audience", "nobody"], "no audience 'nobody' (there are:"),
    ],
)
def test_bad_arguments_are_named(deliveries, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        replay(*args)


def test_the_replayer_must_be_an_active_user(deliveries):
    with pytest.raises(CommandError, match="--as: no active user named 'ghost'"):
        call_command("replay_deliveries", "--since", "2026-01-01", "--as", "ghost")
