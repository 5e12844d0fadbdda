"""A responder corrects a stage time or a wrong skip, with a reason: the timeline and the
history say from what to what, and the durations follow. Nothing changes silently."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents import history, selectors, services
from incidents.lifecycle import IllegalCorrection, plan_correction
from incidents.models import TimelineEvent
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db
Kind = TimelineEvent.Kind


@pytest.fixture
def skipped_recovery(responder):
    """Judge → Share in one go: Recover and Analyze were skipped (issue 11's trap)."""
    detected = (timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    incident = services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder, detected_at=detected
    )
    services.incident_move(incident=incident, to="judge", actor=responder)
    services.incident_move(incident=incident, to="share", actor=responder)
    incident.refresh_from_db()
    return incident


def test_a_wrong_skip_gets_its_time_and_time_to_recover_is_measured(skipped_recovery, responder):
    incident = skipped_recovery
    assert selectors.incident_durations(incident, now=timezone.now()).time_to_recover is None
    really = incident.detected_at + timedelta(minutes=40)
    services.incident_stage_time_correct(
        incident=incident,
        stage="recover",
        at=really,
        reason="The rollback finished at 40 minutes; Recover was skipped by mistake.",
        actor=responder,
    )
    incident.refresh_from_db()
    assert incident.stage == "share"  # only the time changes, never the stage
    assert (incident.recovered_at, incident.recovered_by) == (really, responder)
    measured = selectors.incident_durations(incident, now=timezone.now())
    assert measured.time_to_recover == timedelta(minutes=40)
    event = incident.events.latest("id")
    assert (event.kind, event.actor) == (Kind.STAGE_TIME_CORRECTED, responder)
    assert event.text == (
        f"Recover time corrected from — (skipped) to {really:%Y-%m-%d %H:%M} UTC: "
        "The rollback finished at 40 minutes; Recover was skipped by mistake."
    )
    assert event.data["stage"] == "recover" and event.data["from"] is None
    assert event.data["to"] == really.isoformat()
    record = incident.history.latest("history_id")
    assert (record.history_user, record.history_change_reason) == (
        responder,
        "recover time corrected",
    )
    (entry,) = [
        entry
        for entry in history.incident_history(incident=incident)
        if entry.reason == "recover time corrected"
    ]
    changed = {change.field: (change.old, change.new) for change in entry.changes}
    assert changed["recovered_at"][0] == "—"
    assert changed["recovered_by"] == ("—", str(responder))


def test_a_reached_stage_time_is_corrected_from_old_to_new(responder):
    detected = timezone.now() - timedelta(hours=3)
    incident = services.incident_declare(
        title="Queue backlog", severity=severity("SEV3"), actor=responder, detected_at=detected
    )
    services.incident_move(incident=incident, to="propagate", actor=responder)
    services.incident_move(incident=incident, to="judge", actor=responder)
    services.incident_move(incident=incident, to="recover", actor=responder)
    incident.refresh_from_db()
    recorded, recovered_by = incident.recovered_at, incident.recovered_by
    # Service came back before anyone clicked Judge: that is what happened, and allowed.
    really = detected + timedelta(minutes=25)
    services.incident_stage_time_correct(
        incident=incident, stage="recover", at=really, reason="Metrics show it.", actor=responder
    )
    incident.refresh_from_db()
    assert (incident.recovered_at, incident.recovered_by) == (really, recovered_by)
    event = incident.events.latest("id")
    assert (event.data["from"], event.data["to"]) == (recorded.isoformat(), really.isoformat())
    assert event.text.startswith("Recover time corrected from 20") and " UTC to " in event.text
    assert event.text.endswith(": Metrics show it.")
    assert selectors.incident_durations(incident, now=timezone.now()).time_to_recover == (
        timedelta(minutes=25)
    )


@pytest.mark.parametrize(
    ("stage", "at", "field", "message"),
    [
        ("retrospect", lambda i: i.detected_at, "stage", "Retrospect has not been reached yet"),
        ("recover", lambda i: timezone.now() + timedelta(hours=1), "at", "in the future"),
        ("recover", lambda i: i.detected_at - timedelta(minutes=1), "at", "before detection"),
        ("detect", lambda i: i.started_at - timedelta(minutes=1), "at", "before impact started"),
        ("detect", lambda i: i.shared_at, "at", "after Judge"),
        ("judge", lambda i: i.judged_at, "at", "Judge already has this time."),
        ("nonsense", lambda i: i.detected_at, "stage", "is not a stage"),
    ],
)
def test_impossible_corrections_are_refused_naming_the_field(
    skipped_recovery, responder, stage, at, field, message
):
    incident = skipped_recovery
    events, history = incident.events.count(), incident.history.count()
    with pytest.raises(IllegalCorrection) as excinfo:
        services.incident_stage_time_correct(
            incident=incident, stage=stage, at=at(incident), reason="because", actor=responder
        )
    assert excinfo.value.field == field
    assert message in excinfo.value.message
    assert (incident.events.count(), incident.history.count()) == (events, history)


def test_a_correction_needs_a_reason_and_a_responder(skipped_recovery, responder, viewer):
    incident = skipped_recovery
    at = incident.detected_at + timedelta(minutes=5)
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_stage_time_correct(
            incident=incident, stage="recover", at=at, reason=" ", actor=responder
        )
    assert excinfo.value.field == "reason"
    with pytest.raises(NotAllowed):
        services.incident_stage_time_correct(
            incident=incident, stage="recover", at=at, reason="x", actor=viewer
        )


def test_a_closed_incident_can_still_be_corrected(skipped_recovery, responder):
    incident = skipped_recovery
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    services.incident_close(
        incident=incident, actor=responder, outcome="declined", note="Handled as a change."
    )
    services.incident_stage_time_correct(
        incident=incident,
        stage="recover",
        at=incident.detected_at + timedelta(minutes=10),
        reason="For the record.",
        actor=responder,
    )
    incident.refresh_from_db()
    assert incident.recovered_at == incident.detected_at + timedelta(minutes=10)


def test_the_plan_is_pure_and_names_the_neighbour():
    now = timezone.now()
    times = {"detect": now - timedelta(hours=1), "propagate": now - timedelta(minutes=50)}
    with pytest.raises(IllegalCorrection, match="Detection cannot be after Propagate"):
        plan_correction(
            times=times,
            started_at=now - timedelta(hours=2),
            current="propagate",
            stage="detect",
            at=now - timedelta(minutes=40),
            now=now,
        )
    plan = plan_correction(
        times=times,
        started_at=now - timedelta(hours=2),
        current="propagate",
        stage="detect",
        at=now - timedelta(minutes=55),
        now=now,
    )
    assert (plan.previous, plan.corrected) == (times["detect"], now - timedelta(minutes=55))
