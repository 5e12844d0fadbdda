"""A hand-computed fixture for the report figures (the expected values are in the
tests, worked out by hand in their comments). Times are explicit, so the rows are
written by the factories (inert rows) as the lifecycle service would leave them:
a reopened incident has its last recovery and ``reopened_count``; a skipped stage
has no time; false alarms and duplicates are closed with their outcome."""

from datetime import UTC, date, datetime, timedelta

from incidents.lifecycle import Outcome, Stage
from notifications.models import Delivery, StatusUpdate, UpdateKind
from postmortems.models import ActionItem, Postmortem
from tests.factories.incidents import (
    DecisionFactory,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    severity,
)
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.postmortems import default_template

T = datetime(2026, 10, 5, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _sent(update, destination, at, status=Delivery.Status.SENT):
    return Delivery.objects.create(
        update=update,
        destination=destination,
        status=status,
        next_attempt_at=at,
        sent_at=at if status == Delivery.Status.SENT else None,
    )


def build(responder):
    payments = TeamFactory(name="Payments", slug="payments")
    discovery = TeamFactory(name="Discovery", slug="discovery")
    checkout = ServiceFactory(name="Checkout", slug="checkout", owner_team=payments)
    search = ServiceFactory(name="Search", slug="search", owner_team=discovery)
    alice = UserFactory(username="alice", role="responder")
    bob = UserFactory(username="bob", role="responder")
    common = {"created_by": responder, "detected_by": responder, "commander": responder}

    a = IncidentFactory(
        title="Checkout down",
        severity=severity("SEV1"),
        stage=Stage.RETROSPECT,
        started_at=T - 10 * MIN,
        detected_at=T,
        judged_at=T + 5 * MIN,
        recovered_at=T + 30 * MIN,
        detection_source="monitoring",
        category="technical.software",
        failure_patterns=["cascading", "dependency"],
        sla_minutes_breached=30,
        estimated_loss=1000,
        **common,
    )
    a.services.set([checkout])
    t1 = T + timedelta(days=1)
    b = IncidentFactory(
        title='=HYPERLINK("http://evil")',  # a formula: the CSV must defuse it
        severity=severity("SEV2"),
        stage=Stage.RECOVER,
        started_at=t1 - 20 * MIN,
        detected_at=t1,
        propagated_at=None,
        judged_at=None,  # judge skipped: time to decide comes from the decision
        recovered_at=t1 + 60 * MIN,  # the last recovery, after one reopen
        reopened_count=1,
        detection_source="customer_report",
        category="technical.software",
        failure_patterns=["cascading"],
        sla_minutes_breached=10,
        estimated_loss=500,
        **common,
    )
    b.services.set([checkout])
    DecisionFactory(incident=b, decided_at=t1 + 8 * MIN, decided_by=responder)
    DecisionFactory(incident=b, decided_at=t1 + 40 * MIN, decided_by=responder)
    t2 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    c = IncidentFactory(
        title="Search slow",
        severity=severity("SEV2"),
        stage=Stage.RECOVER,
        started_at=t2,
        detected_at=t2,
        judged_at=t2 + 10 * MIN,
        recovered_at=t2 + 120 * MIN,
        detection_source="internal",
        detected_before_customers=False,
        category="technical.hardware",
        failure_patterns=["capacity"],
        **common,
    )
    c.services.set([search])
    false_alarm = IncidentFactory(
        title="Flaky probe",
        severity=severity("SEV1"),
        started_at=T + 3 * MIN,
        detected_at=T + 3 * MIN,
        closed_at=T + 20 * MIN,
        outcome=Outcome.FALSE_ALARM,
        outcome_reason="The probe itself was broken.",
        **common,
    )
    duplicate = IncidentFactory(
        title="Checkout errors again",
        severity=severity("SEV1"),
        started_at=T + 4 * MIN,
        detected_at=T + 4 * MIN,
        closed_at=T + 25 * MIN,
        outcome=Outcome.DUPLICATE,
        outcome_reason="Same outage.",
        duplicate_of=a,
        **common,
    )
    stranger = UserFactory(username="mallory", role="responder")
    private = IncidentFactory(
        title="Secret",
        severity=severity("SEV3"),
        private=True,
        started_at=T + 2 * 60 * MIN,
        detected_at=T + 2 * 60 * MIN,
        created_by=stranger,
        detected_by=stranger,
        commander=stranger,
    )

    # Propagation of A: responders first told at +3 (a second delivery at +7 does not
    # count), CS at +12; the business delivery failed; a personal notice is not
    # propagation. Cadence of A: an update at +2 promising the next by +40, one at +6.
    responders = DestinationFactory(audience=audience("responders"), name="#incidents")
    cs = DestinationFactory(audience=audience("cs"), kind="email", target="cs@example.test")
    business = DestinationFactory(audience=audience("business"), kind="email", target="b@x.test")
    update = StatusUpdate.objects.create(
        incident=a, message="Investigating", created_at=T + 2 * MIN, next_update_at=T + 40 * MIN
    )
    _sent(update, responders, T + 3 * MIN)
    later = StatusUpdate.objects.create(incident=a, message="Found it", created_at=T + 6 * MIN)
    _sent(later, responders, T + 7 * MIN)
    _sent(update, cs, T + 12 * MIN)
    _sent(update, business, T + 1 * MIN, status=Delivery.Status.FAILED)
    personal = StatusUpdate.objects.create(
        incident=a, kind=UpdateKind.PERSONAL, message="You are scribe", created_at=T + MIN
    )
    _sent(personal, DestinationFactory(user=alice, kind="email", target="a@x.test"), T + MIN)
    # Cadence of B (SEV2, 60 min): an update at +50, by the due +60 (kept); C: none
    # before its recovery at +120, due at +60 (missed).
    StatusUpdate.objects.create(incident=b, message="Fixing", created_at=t1 + 50 * MIN)

    # A's postmortem published a day after detection; two items, both done: one on
    # time, one late (the last at +5 days). B's draft has one overdue item.
    pm_a = Postmortem.objects.create(
        incident=a,
        template=default_template(),
        title="Checkout down",
        status=Postmortem.Status.PUBLISHED,
        published_at=T + timedelta(days=1),
    )
    ActionItem.objects.create(
        postmortem=pm_a,
        title="Add a breaker",
        owner=alice,
        team=payments,
        due_date=date(2026, 10, 8),
        status=ActionItem.Status.DONE,
        completed_at=T + timedelta(days=2),
    )
    ActionItem.objects.create(
        postmortem=pm_a,
        title="@SUM(A1)",
        owner=alice,
        team=payments,
        due_date=date(2026, 10, 8),
        status=ActionItem.Status.DONE,
        completed_at=T + timedelta(days=5),
    )
    pm_b = Postmortem.objects.create(incident=b, template=default_template(), title="B")
    ActionItem.objects.create(
        postmortem=pm_b,
        title="Alert on latency",
        owner=bob,
        team=payments,
        due_date=date(2026, 10, 10),
        kind=ActionItem.Kind.DETECT,
    )
    return {
        "a": a,
        "b": b,
        "c": c,
        "false_alarm": false_alarm,
        "duplicate": duplicate,
        "private": private,
    }
