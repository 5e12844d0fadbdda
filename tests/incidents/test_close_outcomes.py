"""Outcomes other than resolved: false alarm, duplicate of #N, declined — from any stage,
with a reason, linked both ways for duplicates, and left out of the lifecycle metrics."""

import pytest

from common.exceptions import InvalidInput
from incidents import lifecycle, selectors, services
from incidents import metrics as incident_metrics
from incidents.lifecycle import CannotClose, Outcome
from incidents.models import Incident, TimelineEvent
from tests.factories.incidents import UserFactory, severity

pytestmark = pytest.mark.django_db
Kind = TimelineEvent.Kind


def _declare(actor, title="Checkout 500s", **kwargs):
    return services.incident_declare(title=title, severity=severity("SEV2"), actor=actor, **kwargs)


def test_a_false_alarm_closes_from_detect_with_its_reason(responder):
    incident = _declare(responder)
    services.incident_close(
        incident=incident,
        actor=responder,
        outcome=Outcome.FALSE_ALARM,
        note="The probe flapped; checkout was fine.",
    )
    incident.refresh_from_db()
    assert incident.closed_at is not None and incident.stage == "detect"
    assert (incident.outcome, incident.outcome_reason) == (
        "false_alarm",
        "The probe flapped; checkout was fine.",
    )
    event = incident.events.latest("id")
    assert event.kind == Kind.CLOSED
    assert event.text == "Closed as a false alarm: The probe flapped; checkout was fine."
    assert event.data == {"outcome": "false_alarm", "stage": "detect"}
    record = incident.history.latest("history_id")
    assert (record.history_user, record.history_change_reason) == (
        responder,
        "closed as false_alarm",
    )
    assert record.outcome == "false_alarm"


@pytest.mark.parametrize("outcome", ["false_alarm", "declined", "duplicate"])
def test_every_outcome_but_resolved_needs_a_reason(responder, outcome):
    incident = _declare(responder)
    other = _declare(responder, title="Other")
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_close(
            incident=incident, actor=responder, outcome=outcome, note="  ", duplicate_of=other
        )
    assert excinfo.value.field == "note"
    incident.refresh_from_db()
    assert incident.closed_at is None


def test_resolved_keeps_its_rules(responder):
    incident = _declare(responder)
    with pytest.raises(CannotClose) as excinfo:
        services.incident_close(incident=incident, actor=responder)
    assert (
        "An incident closes from retrospect; move it there first."
        in excinfo.value.extra["blockers"]
    )


def test_an_unknown_outcome_is_refused_by_name(responder):
    incident = _declare(responder)
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_close(incident=incident, actor=responder, outcome="fixed", note="x")
    assert excinfo.value.field == "outcome"


def test_a_duplicate_links_both_ways(responder):
    original = _declare(responder, title="Payments down")
    duplicate = _declare(responder, title="Checkout fails")
    services.incident_move(incident=duplicate, to="judge", actor=responder, note="")
    services.incident_close(
        incident=duplicate,
        actor=responder,
        outcome=Outcome.DUPLICATE,
        duplicate_of=original,
        note="Same payment provider outage.",
    )
    duplicate.refresh_from_db()
    assert duplicate.duplicate_of == original and duplicate.outcome == "duplicate"
    closed = duplicate.events.latest("id")
    assert closed.text == f"Closed as a duplicate of #{original.pk}: Same payment provider outage."
    assert closed.data["duplicate_of"] == original.pk
    back = original.events.latest("id")
    assert back.kind == Kind.DUPLICATE_LINKED
    assert back.data == {"duplicate": duplicate.pk}
    assert back.text.startswith(f"#{duplicate.pk} was closed as a duplicate of this incident")
    assert list(original.duplicates.all()) == [duplicate]
    assert original.closed_at is None  # the work continues there


def test_a_private_duplicate_keeps_its_reason_off_the_other_timeline(responder):
    original = _declare(responder, title="Payments down")
    secret = _declare(responder, title="Card data exposed", private=True)
    services.incident_close(
        incident=secret,
        actor=responder,
        outcome="duplicate",
        duplicate_of=original.pk,
        note="Card numbers in logs of the payments host.",
    )
    back = original.events.latest("id")
    assert back.text == f"#{secret.pk} was closed as a duplicate of this incident."


def test_a_duplicate_target_must_be_visible_other_and_not_itself_a_duplicate(responder):
    incident = _declare(responder)
    stranger = UserFactory(username="sam", role="responder")
    hidden = _declare(stranger, title="Secret", private=True)
    first, second = _declare(responder, title="A"), _declare(responder, title="B")
    services.incident_close(
        incident=second, actor=responder, outcome="duplicate", duplicate_of=first, note="same"
    )
    for target, message in [
        (None, "Say which incident this duplicates (its number)."),
        (hidden.pk, f"There is no incident #{hidden.pk}."),
        (10**9, f"There is no incident #{10**9}."),
        (incident.pk, "An incident cannot duplicate itself."),
        (second.pk, f"#{second.pk} is itself a duplicate of #{first.pk}; point at #{first.pk}."),
    ]:
        with pytest.raises(InvalidInput) as excinfo:
            services.incident_close(
                incident=incident,
                actor=responder,
                outcome="duplicate",
                duplicate_of=target,
                note="same",
            )
        assert (excinfo.value.field, excinfo.value.message) == ("duplicate_of", message)
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_close(
            incident=incident, actor=responder, outcome="declined", duplicate_of=first, note="x"
        )
    assert excinfo.value.field == "duplicate_of"


def test_closed_as_other_than_resolved_leaves_the_metrics(responder):
    incident = _declare(responder)
    services.decision_record(
        incident=incident, options=["Wait"], chosen="Wait", rationale="Looks flaky", actor=responder
    )
    incident = services.incident_move(incident=incident, to="recover", actor=responder)
    measured = selectors.incident_durations(incident, now=incident.detected_at)
    assert measured.time_to_recover is not None and measured.not_measured == ""
    services.incident_close(
        incident=incident, actor=responder, outcome="declined", note="Expected maintenance."
    )
    incident = selectors.incident_detail(user=responder, pk=incident.pk)
    measured = selectors.incident_durations(incident, now=incident.closed_at)
    assert not lifecycle.counts_in_metrics(incident)
    assert measured.not_measured == "closed as declined"
    assert (
        measured.time_to_detect,
        measured.time_to_propagate,
        measured.time_to_decide,
        measured.time_to_recover,
    ) == (None, None, None, None)
    assert measured.open_for is not None


def test_metrics_count_closed_incidents_by_outcome_and_only_open_ones_as_open(responder):
    open_one = _declare(responder, title="Still open")
    false_alarm = _declare(responder, title="Flap")
    services.incident_close(incident=false_alarm, actor=responder, outcome="false_alarm", note="f")
    families = {family.name: family for family in incident_metrics.collect()}
    open_counts = {
        (s.labels["severity"], s.labels["stage"]): s.value
        for s in families["keel_open_incidents"].samples
        if s.value
    }
    assert open_counts == {("SEV2", "detect"): 1}
    closed = {s.labels["outcome"]: s.value for s in families["keel_closed_incidents"].samples}
    assert closed == {"resolved": 0, "false_alarm": 1, "duplicate": 0, "declined": 0}
    assert open_one.is_open


def test_the_database_refuses_a_resolved_close_outside_retrospect(responder):
    from django.db import IntegrityError, transaction

    incident = _declare(responder)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(
            closed_at=incident.detected_at, outcome="resolved"
        )
