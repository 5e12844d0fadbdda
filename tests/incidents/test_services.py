"""Every write leaves a timeline event and a history row naming the actor and why."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents import services
from incidents.models import Incident, RoleAssignment, TimelineEvent
from tests.factories.incidents import ChangeFactory, ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
Kind = TimelineEvent.Kind


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _last_history(incident):
    return incident.history.order_by("-history_id").first()


def _assert_every_history_row_is_attributed(incident, actor):
    for record in incident.history.all():
        assert record.history_user == actor, record.history_change_reason
        assert record.history_change_reason, record


def test_declare_writes_incident_commander_event_and_history(responder):
    api, web = ServiceFactory(slug="api"), ServiceFactory(slug="web")
    incident = services.incident_declare(
        title="Checkout 500s",
        severity=severity("SEV2"),
        actor=responder,
        services=[api, web],
        detection_source="monitoring",
    )
    assert incident.stage == "detect"
    assert incident.commander == responder and incident.created_by == responder
    assert incident.detected_by == responder
    assert incident.started_at == incident.detected_at
    assert set(incident.services.all()) == {api, web}
    (event,) = incident.events.all()
    assert event.kind == Kind.DECLARED and event.actor == responder
    assert event.data == {
        "severity": "SEV2",
        "detection_source": "monitoring",
        "services": ["api", "web"],
    }
    (assignment,) = incident.role_assignments.all()
    assert (assignment.role, assignment.user, assignment.ended_at) == ("commander", responder, None)
    first = incident.history.earliest("history_id")
    assert first.history_type == "+"
    _assert_every_history_row_is_attributed(incident, responder)


def test_declare_refuses_impossible_times(responder):
    now = timezone.now()
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_declare(
            title="x",
            severity=severity("SEV3"),
            actor=responder,
            detected_at=now + timedelta(hours=1),
        )
    assert excinfo.value.field == "detected_at"
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_declare(
            title="x",
            severity=severity("SEV3"),
            actor=responder,
            detected_at=now - timedelta(hours=1),
            started_at=now,
        )
    assert excinfo.value.field == "started_at"
    assert not Incident.objects.exists()


def test_declare_refuses_an_oversized_title(responder):
    with pytest.raises(ValidationError) as excinfo:
        services.incident_declare(title="x" * 201, severity=severity("SEV3"), actor=responder)
    assert "title" in excinfo.value.message_dict
    assert not Incident.objects.exists()


def test_move_writes_event_and_history(incident, responder):
    services.incident_move(incident=incident, to="judge", actor=responder, note="why")
    incident.refresh_from_db()
    record = _last_history(incident)
    assert record.stage == "judge"
    assert record.history_user == responder
    assert record.history_change_reason == "stage detect → judge"
    event = incident.events.latest("id")
    assert (event.kind, event.actor, event.text) == (Kind.STAGE_SKIPPED, responder, "why")


def test_move_refuses_an_oversized_note(incident, responder):
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_move(incident=incident, to="judge", actor=responder, note="n" * 10_001)
    assert excinfo.value.field == "note"


def test_close_writes_event_and_history(incident, responder):
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    services.incident_close(incident=incident, actor=responder)
    incident.refresh_from_db()
    record = _last_history(incident)
    assert record.closed_at == incident.closed_at
    assert (record.history_user, record.history_change_reason) == (responder, "closed")
    assert incident.events.latest("id").kind == Kind.CLOSED


def test_update_writes_one_event_naming_the_fields_and_history(incident, responder):
    change = ChangeFactory()
    api = ServiceFactory(slug="api")
    services.incident_update(
        incident=incident,
        actor=responder,
        data={
            "title": "Checkout 502s",
            "failure_patterns": ["cascading", "cascading", "capacity"],
            "preceding_change": change,
            "services": [api],
        },
    )
    incident.refresh_from_db()
    assert incident.title == "Checkout 502s"
    assert incident.failure_patterns == ["cascading", "capacity"]
    assert incident.preceding_change == change
    assert list(incident.services.all()) == [api]
    event = incident.events.latest("id")
    assert event.kind == Kind.FIELDS_CHANGED and event.actor == responder
    assert set(event.data["fields"]) == {
        "title",
        "failure_patterns",
        "preceding_change",
        "services",
    }
    assert _last_history(incident).history_change_reason.startswith("edited ")
    _assert_every_history_row_is_attributed(incident, responder)


def test_update_severity_gets_its_own_event(incident, responder):
    services.incident_update(
        incident=incident, actor=responder, data={"severity": severity("SEV1")}
    )
    (event,) = incident.events.filter(kind=Kind.SEVERITY_CHANGED)
    assert event.data == {"from": "SEV3", "to": "SEV1"}
    assert not incident.events.filter(kind=Kind.FIELDS_CHANGED).exists()


def test_update_without_changes_writes_nothing(incident, responder):
    events, history = incident.events.count(), incident.history.count()
    services.incident_update(incident=incident, actor=responder, data={"title": incident.title})
    assert (incident.events.count(), incident.history.count()) == (events, history)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"stage": "retrospect"}, "stage"),
        ({"closed_at": timezone.now()}, "closed_at"),
        ({"failure_patterns": ["gremlins"]}, "failure_patterns"),
        ({"started_at": timezone.now() + timedelta(days=1)}, "started_at"),
    ],
)
def test_update_refuses_what_it_must_not_write(incident, responder, data, field):
    history = incident.history.count()
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_update(incident=incident, actor=responder, data=data)
    assert excinfo.value.field == field
    incident.refresh_from_db()
    assert incident.stage == "detect" and incident.closed_at is None
    assert incident.history.count() == history


def test_commander_hand_off_keeps_the_history(incident, responder):
    bea = UserFactory(username="bea", role="responder")
    services.incident_assign_role(incident=incident, role="commander", user=bea, actor=responder)
    incident.refresh_from_db()
    assert incident.commander == bea
    first, second = RoleAssignment.objects.filter(incident=incident, role="commander")
    assert first.user == responder and first.ended_at is not None
    assert second.user == bea and second.ended_at is None and second.assigned_by == responder
    assert first.ended_at == second.started_at
    event = incident.events.latest("id")
    assert event.kind == Kind.ROLE_ASSIGNED
    assert event.data == {"role": "commander", "user": "bea"}
    record = _last_history(incident)
    assert record.commander_id == bea.pk
    assert (record.history_user, record.history_change_reason) == (responder, "commander assigned")

    # Handing the role to its holder again changes nothing.
    count = RoleAssignment.objects.count()
    services.incident_assign_role(incident=incident, role="commander", user=bea, actor=responder)
    assert RoleAssignment.objects.count() == count


@pytest.mark.parametrize("role", ["communications_lead", "scribe"])
def test_single_roles_hand_off(incident, responder, role):
    a, b = UserFactory(username="a1"), UserFactory(username="b1")
    services.incident_assign_role(incident=incident, role=role, user=a, actor=responder)
    services.incident_assign_role(incident=incident, role=role, user=b, actor=responder)
    incident.refresh_from_db()
    assert getattr(incident, role) == b
    first, second = RoleAssignment.objects.filter(incident=incident, role=role)
    assert first.user == a and first.ended_at is not None
    assert second.user == b and second.ended_at is None


def test_responders_are_a_set_and_audited(incident, responder):
    cal = UserFactory(username="cal", role="responder")
    services.incident_assign_role(incident=incident, role="responder", user=cal, actor=responder)
    services.incident_assign_role(incident=incident, role="responder", user=cal, actor=responder)
    assert list(incident.responders.all()) == [cal]
    assert RoleAssignment.objects.filter(role="responder", user=cal).count() == 1
    _assert_every_history_row_is_attributed(incident, responder)
    assert _last_history(incident).history_change_reason == "responder added"

    services.incident_remove_responder(incident=incident, user=cal, actor=responder)
    assert not incident.responders.exists()
    (assignment,) = RoleAssignment.objects.filter(role="responder", user=cal)
    assert assignment.ended_at is not None
    assert incident.events.latest("id").data["removed"] is True
    _assert_every_history_row_is_attributed(incident, responder)

    # Added back: a new open assignment, the old one stays ended.
    services.incident_assign_role(incident=incident, role="responder", user=cal, actor=responder)
    assert RoleAssignment.objects.filter(role="responder", user=cal, ended_at=None).count() == 1


def test_assign_role_refuses_unknown_roles_and_inactive_users(incident, responder):
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_assign_role(
            incident=incident, role="king", user=responder, actor=responder
        )
    assert excinfo.value.field == "role"
    gone = UserFactory(username="gone")
    gone.is_active = False
    gone.save()
    with pytest.raises(InvalidInput) as excinfo:
        services.incident_assign_role(incident=incident, role="scribe", user=gone, actor=responder)
    assert excinfo.value.field == "user"


def test_note_add(incident, responder):
    event = services.note_add(incident=incident, text="  rolled back web  ", actor=responder)
    assert (event.kind, event.text, event.actor) == (Kind.NOTE, "rolled back web", responder)
    with pytest.raises(InvalidInput):
        services.note_add(incident=incident, text="   ", actor=responder)


def test_decision_record_writes_decision_event_and_history(incident, responder):
    decision = services.decision_record(
        incident=incident,
        options=["Roll back", " Fix forward ", ""],
        chosen="Roll back",
        rationale="Known-good state.",
        information="Error rate 30%",
        actor=responder,
    )
    assert decision.options == ["Roll back", "Fix forward"]
    assert decision.decided_by == responder
    event = incident.events.latest("id")
    assert event.kind == Kind.DECISION and event.data["decision"] == decision.pk
    (record,) = decision.history.all()
    assert (record.history_user, record.history_change_reason) == (responder, "decision recorded")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"options": [], "chosen": "a", "rationale": "r"}, "options"),
        ({"options": ["a"], "chosen": "b", "rationale": "r"}, "chosen"),
        ({"options": ["a"], "chosen": "a", "rationale": "  "}, "rationale"),
    ],
)
def test_decision_record_refuses_bad_input(incident, responder, kwargs, field):
    with pytest.raises(InvalidInput) as excinfo:
        services.decision_record(incident=incident, actor=responder, **kwargs)
    assert excinfo.value.field == field


# --- viewers (and the anonymous) are refused by every write service ---------------------

WRITES = {
    "declare": lambda inc, actor, other: services.incident_declare(
        title="x", severity=severity("SEV3"), actor=actor
    ),
    "move": lambda inc, actor, other: services.incident_move(incident=inc, to="judge", actor=actor),
    "close": lambda inc, actor, other: services.incident_close(incident=inc, actor=actor),
    "update": lambda inc, actor, other: services.incident_update(
        incident=inc, actor=actor, data={"title": "y"}
    ),
    "assign_role": lambda inc, actor, other: services.incident_assign_role(
        incident=inc, role="commander", user=other, actor=actor
    ),
    "remove_responder": lambda inc, actor, other: services.incident_remove_responder(
        incident=inc, user=other, actor=actor
    ),
    "note_add": lambda inc, actor, other: services.note_add(incident=inc, text="t", actor=actor),
    "decision_record": lambda inc, actor, other: services.decision_record(
        incident=inc, options=["a"], chosen="a", rationale="r", actor=actor
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_viewers_cannot_write(incident, viewer, responder, write):
    events, history = TimelineEvent.objects.count(), Incident.history.count()
    with pytest.raises(NotAllowed) as excinfo:
        WRITES[write](incident, viewer, responder)
    assert excinfo.value.status_code == 403
    assert (TimelineEvent.objects.count(), Incident.history.count()) == (events, history)


@pytest.mark.parametrize("write", sorted(WRITES))
def test_anonymous_cannot_write(incident, responder, write):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotAllowed):
        WRITES[write](incident, AnonymousUser(), responder)


@pytest.mark.parametrize("write", sorted(WRITES))
def test_admins_can_write(incident, admin_user, responder, write):
    if write == "close":
        services.incident_move(incident=incident, to="retrospect", actor=admin_user)
    if write == "remove_responder":
        services.incident_assign_role(
            incident=incident, role="responder", user=responder, actor=admin_user
        )
    WRITES[write](incident, admin_user, UserFactory(username="zed"))
