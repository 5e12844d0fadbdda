"""Decisions from options: picked (by position or forgiving text), superseded by a later
decision (kept, linked), and *Time to decide* ends at the first decision or at judge."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents import lifecycle, selectors, services
from incidents.forms import DecisionForm
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db
OPTIONS = ["Roll back", "Fix forward", "Fail over"]


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s",
        severity=severity("SEV2"),
        actor=responder,
        detected_at=timezone.now() - timedelta(minutes=30),
    )


def test_the_chosen_option_is_picked_by_its_position(incident, responder):
    decision = services.decision_record(
        incident=incident, options=OPTIONS, chosen_index=1, rationale="Small fix", actor=responder
    )
    assert (decision.chosen, decision.chosen_index) == ("Fix forward", 1)


def test_the_chosen_text_is_matched_without_case_or_spacing(incident, responder):
    decision = services.decision_record(
        incident=incident,
        options=OPTIONS,
        chosen="  roll   BACK ",
        rationale="Deploy is the cause",
        actor=responder,
    )
    assert decision.chosen == "Roll back"


def test_blank_and_repeated_options_are_dropped_and_the_index_follows(incident, responder):
    decision = services.decision_record(
        incident=incident,
        options=["", "Roll back", "roll back", "Wait"],
        chosen_index=3,
        rationale="Watch it",
        actor=responder,
    )
    assert decision.options == ["Roll back", "Wait"]
    assert decision.chosen == "Wait"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chosen_index": 3}, "chosen_index"),
        ({"chosen_index": 0, "chosen": "Fail over"}, "chosen"),
        ({"chosen": "Pray"}, "chosen"),
        ({}, "chosen"),
    ],
)
def test_a_pick_that_names_no_option_is_refused(incident, responder, kwargs, field):
    with pytest.raises(InvalidInput) as excinfo:
        services.decision_record(
            incident=incident, options=OPTIONS, rationale="r", actor=responder, **kwargs
        )
    assert excinfo.value.field == field
    assert not incident.decisions.exists()


def test_a_later_decision_supersedes_an_earlier_one(incident, responder):
    first = services.decision_record(
        incident=incident, options=OPTIONS, chosen_index=0, rationale="Deploy", actor=responder
    )
    second = services.decision_record(
        incident=incident,
        options=OPTIONS,
        chosen_index=2,
        rationale="Rollback failed",
        supersedes=first,
        actor=responder,
    )
    first.refresh_from_db()
    assert second.supersedes == first and first.superseded_by == second
    assert first.chosen == "Roll back"  # kept as it was
    event = incident.events.latest("id")
    assert event.text == "Decided: Fail over (replaces “Roll back”) — Rollback failed"
    assert event.data["supersedes"] == first.pk
    with pytest.raises(InvalidInput) as excinfo:
        services.decision_record(
            incident=incident,
            options=OPTIONS,
            chosen_index=1,
            rationale="again",
            supersedes=first,
            actor=responder,
        )
    assert excinfo.value.field == "supersedes"


def test_only_a_decision_of_the_same_incident_can_be_superseded(incident, responder):
    other = services.incident_declare(title="Other", severity=severity("SEV3"), actor=responder)
    foreign = services.decision_record(
        incident=other, options=["Wait"], chosen_index=0, rationale="r", actor=responder
    )
    with pytest.raises(InvalidInput) as excinfo:
        services.decision_record(
            incident=incident,
            options=OPTIONS,
            chosen_index=0,
            rationale="r",
            supersedes=foreign.pk,
            actor=responder,
        )
    assert excinfo.value.field == "supersedes"


def test_time_to_decide_ends_at_the_first_decision_or_judge_whichever_is_first(incident, responder):
    measured = selectors.incident_durations(incident, now=timezone.now())
    assert measured.time_to_decide is None
    first = services.decision_record(
        incident=incident, options=OPTIONS, chosen_index=0, rationale="r", actor=responder
    )
    services.decision_record(
        incident=incident,
        options=OPTIONS,
        chosen_index=1,
        rationale="r",
        supersedes=first,
        actor=responder,
    )
    services.incident_move(incident=incident, to="judge", actor=responder)
    incident = selectors.incident_detail(user=responder, pk=incident.pk)
    assert incident.first_decided_at == first.decided_at
    measured = selectors.incident_durations(incident, now=timezone.now())
    assert measured.time_to_decide == first.decided_at - incident.detected_at
    # Reaching judge first (a correction puts judge before the decision) ends it there.
    judged = incident.detected_at + timedelta(minutes=5)
    services.incident_stage_time_correct(
        incident=incident, stage="judge", at=judged, reason="Call at :05", actor=responder
    )
    incident = selectors.incident_detail(user=responder, pk=incident.pk)
    measured = selectors.incident_durations(incident, now=timezone.now())
    assert measured.time_to_decide == timedelta(minutes=5)
    assert "first decision" in lifecycle.DURATION_DEFINITIONS["time_to_decide"]


def test_the_web_form_picks_by_radio_and_keeps_rows_added_in_the_browser(incident):
    data = {
        "decision-option_0": "Roll back",
        "decision-option_1": "",
        "decision-option_2": "Fix forward",
        "decision-option_3": "",
        "decision-option_4": "Wait",  # a row added by "Add an option"
        "decision-chosen": "4",
        "decision-rationale": "Watch the queue drain",
    }
    form = DecisionForm(data, decisions=[])
    assert form.is_valid(), form.errors
    arguments = form.service_arguments()
    assert arguments["chosen_index"] == 4
    assert arguments["options"][4] == "Wait"
    empty_pick = DecisionForm({**data, "decision-chosen": "1"}, decisions=[])
    assert not empty_pick.is_valid()
    assert "The chosen row is empty" in empty_pick.errors["chosen"][0]
    no_pick = DecisionForm({k: v for k, v in data.items() if k != "decision-chosen"})
    assert no_pick.errors["chosen"] == ["Pick the chosen option with its radio button."]
