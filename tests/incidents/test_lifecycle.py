"""The transition table (pure) and the lifecycle as the services drive it."""

from datetime import timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest
from django.utils import timezone

from incidents import lifecycle, services
from incidents.lifecycle import ORDER, IllegalStageMove, MoveKind
from incidents.models import TimelineEvent
from tests.factories.incidents import UserFactory, severity

ALL_PAIRS = [(current, target) for current in ORDER for target in ORDER]


def _expected_kind(current: str, target: str) -> MoveKind | None:
    """The rule written out independently of the implementation."""
    i, j = ORDER.index(current), ORDER.index(target)
    if j == i + 1:
        return MoveKind.FORWARD
    if j > i + 1:
        return MoveKind.SKIP
    if (current, target) == ("recover", "judge"):
        return MoveKind.REOPEN
    return None


# --- pure: plan_move and allowed_targets over all 7 x 7 pairs ---------------------------


def test_there_are_seven_stages_in_order():
    assert ORDER == ["detect", "propagate", "judge", "recover", "analyze", "share", "retrospect"]
    assert set(lifecycle.STAGE_FIELDS) == set(ORDER)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_plan_move_every_pair_on_an_open_incident(current, target):
    expected = _expected_kind(current, target)
    if expected is None:
        with pytest.raises(IllegalStageMove) as excinfo:
            lifecycle.plan_move(current=current, target=target, closed=False)
        assert excinfo.value.status_code == 409
        assert excinfo.value.code == "illegal_stage_move"
        assert excinfo.value.message  # the reason is said
        if current == target:
            assert "already" in excinfo.value.message
        else:
            assert "reopen" in excinfo.value.message
        return
    move = lifecycle.plan_move(current=current, target=target, closed=False)
    assert (move.source, move.target, move.kind) == (current, target, expected)
    if expected == MoveKind.REOPEN:
        assert move.skipped == ()
    else:
        assert move.skipped == tuple(ORDER[ORDER.index(current) + 1 : ORDER.index(target)])


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_plan_move_every_pair_on_a_closed_incident_is_refused(current, target):
    with pytest.raises(IllegalStageMove, match="closed"):
        lifecycle.plan_move(current=current, target=target, closed=True)


@pytest.mark.parametrize("current", ORDER)
def test_allowed_targets_agrees_with_plan_move(current):
    accepted = [t for t in ORDER if _expected_kind(current, t) is not None]
    assert sorted(lifecycle.allowed_targets(current=current, closed=False)) == sorted(accepted)
    assert lifecycle.allowed_targets(current=current, closed=True) == []


def test_reopen_is_only_recover_to_judge():
    reopens = [
        (c, t)
        for c, t in ALL_PAIRS
        if ORDER.index(t) < ORDER.index(c) and _try_plan(c, t) is not None
    ]
    assert reopens == [("recover", "judge")]


def _try_plan(current, target):
    try:
        return lifecycle.plan_move(current=current, target=target, closed=False)
    except IllegalStageMove:
        return None


@pytest.mark.parametrize("target", ["", "closed", "JUDGE", "nope", "detect "])
def test_plan_move_to_an_unknown_stage_names_the_field(target):
    with pytest.raises(IllegalStageMove) as excinfo:
        lifecycle.plan_move(current="detect", target=target, closed=False)
    assert excinfo.value.field == "stage"


# --- pure: closing rules and durations ------------------------------------------------


def _fake(stage="retrospect", postmortem_required=False, closed_at=None, **stamps):
    return SimpleNamespace(
        stage=stage,
        closed_at=closed_at,
        outcome="resolved",  # what a closed one would be; read only once closed
        severity=SimpleNamespace(code="SEVX", postmortem_required=postmortem_required),
        **stamps,
    )


def test_closing_blockers_pure():
    assert lifecycle.closing_blockers(_fake()) == []
    assert lifecycle.closing_blockers(_fake(closed_at=timezone.now())) == [
        "The incident is already closed."
    ]
    (reason,) = lifecycle.closing_blockers(_fake(stage="share"))
    assert "retrospect" in reason
    (reason,) = lifecycle.closing_blockers(_fake(postmortem_required=True))
    assert "SEVX requires a published postmortem" in reason


@pytest.fixture
def postmortem_check_restored():
    original = lifecycle._postmortem_check
    yield
    lifecycle.set_postmortem_check(original)
    assert lifecycle._postmortem_check is original


def test_set_postmortem_check_lets_postmortems_answer_later(postmortem_check_restored):
    incident = _fake(postmortem_required=True)
    assert lifecycle.closing_blockers(incident)
    seen = []

    def published(inc):
        seen.append(inc)
        return True

    lifecycle.set_postmortem_check(published)
    assert lifecycle.closing_blockers(incident) == []
    assert seen == [incident]
    lifecycle.set_postmortem_check(lambda inc: False)
    assert lifecycle.closing_blockers(incident)


def test_registered_closing_checks_add_their_reasons():
    def check(incident):
        return "Action items are still open."

    lifecycle.register_closing_check(check)
    lifecycle.register_closing_check(check)  # registering twice counts once
    try:
        assert lifecycle.closing_blockers(_fake()) == ["Action items are still open."]
    finally:
        lifecycle._closing_checks.remove(check)
    assert lifecycle.closing_blockers(_fake()) == []


def test_durations_are_measured_from_detection():
    t0 = timezone.now() - timedelta(hours=5)
    incident = _fake(
        started_at=t0,
        detected_at=t0 + timedelta(minutes=10),
        propagated_at=t0 + timedelta(minutes=15),
        judged_at=t0 + timedelta(minutes=40),
        recovered_at=t0 + timedelta(minutes=70),
    )
    d = lifecycle.durations(incident, now=t0 + timedelta(hours=2), first_decision_at=None)
    assert d.time_to_detect == timedelta(minutes=10)
    assert d.time_to_propagate == timedelta(minutes=5)
    assert d.time_to_decide == timedelta(minutes=30)
    assert d.time_to_recover == timedelta(minutes=60)
    assert d.open_for == timedelta(hours=2) - timedelta(minutes=10)

    incident.closed_at = t0 + timedelta(hours=1)
    assert lifecycle.durations(
        incident, now=t0 + timedelta(days=9), first_decision_at=None
    ).open_for == timedelta(minutes=50)


def test_durations_of_stages_not_reached_are_none():
    now = timezone.now()
    incident = _fake(
        started_at=now,
        detected_at=now,
        propagated_at=None,
        judged_at=None,
        recovered_at=None,
    )
    d = lifecycle.durations(incident, now=now + timedelta(minutes=3), first_decision_at=None)
    assert d.time_to_detect == timedelta(0)
    assert (d.time_to_propagate, d.time_to_decide, d.time_to_recover) == (None, None, None)
    assert d.open_for == timedelta(minutes=3)


# --- the lifecycle through the services -------------------------------------------------


@pytest.fixture
def declared(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _events(incident, kind):
    return list(incident.events.filter(kind=kind).order_by("occurred_at", "id"))


@pytest.mark.django_db
def test_each_reached_stage_keeps_its_time_and_actor(declared, responder):
    other = UserFactory(username="olga", role="responder")
    actors = [responder, other]
    for i, stage in enumerate(ORDER[1:]):
        actor = actors[i % 2]
        before = timezone.now()
        services.incident_move(incident=declared, to=stage, actor=actor)
        declared.refresh_from_db()
        at_field, by_field = lifecycle.STAGE_FIELDS[stage]
        assert declared.stage == stage
        assert getattr(declared, at_field) >= before
        assert getattr(declared, by_field) == actor
    assert declared.detected_by == responder
    moved = _events(declared, TimelineEvent.Kind.STAGE_MOVED)
    assert [(e.data["from"], e.data["to"]) for e in moved] == list(pairwise(ORDER))
    assert [e.actor for e in moved] == [actors[i % 2] for i in range(6)]
    assert all(e.data["skipped"] == [] for e in moved)


@pytest.mark.django_db
def test_skipping_forward_is_visible_on_the_timeline(declared, responder):
    services.incident_move(incident=declared, to="recover", actor=responder, note="hotfix out")
    declared.refresh_from_db()
    assert declared.stage == "recover"
    assert declared.recovered_at is not None and declared.recovered_by == responder
    assert declared.propagated_at is None and declared.judged_at is None
    (event,) = _events(declared, TimelineEvent.Kind.STAGE_SKIPPED)
    assert event.data == {"from": "detect", "to": "recover", "skipped": ["propagate", "judge"]}
    assert event.text == "hotfix out"
    assert event.actor == responder


@pytest.mark.django_db
def test_reopen_clears_recovery_counts_and_is_recorded(declared, responder):
    services.incident_move(incident=declared, to="judge", actor=responder)
    services.incident_move(incident=declared, to="recover", actor=responder)
    declared.refresh_from_db()
    first_recovery = declared.recovered_at
    judged_at = declared.judged_at

    services.incident_move(incident=declared, to="judge", actor=responder, note="errors are back")
    declared.refresh_from_db()
    assert declared.stage == "judge"
    assert declared.recovered_at is None and declared.recovered_by is None
    assert declared.reopened_count == 1
    assert declared.judged_at == judged_at  # the first judgement is not rewritten
    (event,) = _events(declared, TimelineEvent.Kind.REOPENED)
    assert event.text == "errors are back"
    assert event.actor == responder
    assert event.data["from"] == "recover" and event.data["to"] == "judge"
    assert event.data["previous_recovered_at"] == first_recovery.isoformat()
    record = declared.history.order_by("-history_id").first()
    assert record.history_user == responder
    assert record.history_change_reason == "stage recover → judge"

    # Recover again, reopen again: the count keeps going up.
    services.incident_move(incident=declared, to="recover", actor=responder)
    services.incident_move(incident=declared, to="judge", actor=responder)
    declared.refresh_from_db()
    assert declared.reopened_count == 2


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ORDER[1:])
def test_moving_back_other_than_reopen_is_refused_and_writes_nothing(declared, responder, stage):
    services.incident_move(incident=declared, to=stage, actor=responder)
    events_before = declared.events.count()
    history_before = declared.history.count()
    for target in ORDER[: ORDER.index(stage) + 1]:
        if (stage, target) == ("recover", "judge"):
            continue
        with pytest.raises(IllegalStageMove):
            services.incident_move(incident=declared, to=target, actor=responder)
    declared.refresh_from_db()
    assert declared.stage == stage
    assert declared.events.count() == events_before
    assert declared.history.count() == history_before


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["SEV1", "SEV2"])
def test_sev1_and_sev2_need_a_postmortem_to_close(responder, code):
    assert severity(code).postmortem_required is True
    incident = services.incident_declare(title="Down", severity=severity(code), actor=responder)
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    with pytest.raises(lifecycle.CannotClose) as excinfo:
        services.incident_close(incident=incident, actor=responder)
    assert excinfo.value.status_code == 409
    assert f"{code} requires a published postmortem" in excinfo.value.message
    assert excinfo.value.extra["blockers"]
    incident.refresh_from_db()
    assert incident.closed_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["SEV3", "SEV4"])
def test_sev3_and_sev4_close_from_retrospect(responder, code):
    assert severity(code).postmortem_required is False
    incident = services.incident_declare(title="Slow", severity=severity(code), actor=responder)
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    services.incident_close(incident=incident, actor=responder, note="retro done")
    incident.refresh_from_db()
    assert incident.closed_at is not None and incident.closed_by == responder
    assert not incident.is_open
    (event,) = _events(incident, TimelineEvent.Kind.CLOSED)
    assert event.text == "retro done" and event.actor == responder
    assert lifecycle.allowed_targets(current=incident.stage, closed=True) == []
    with pytest.raises(IllegalStageMove, match="closed"):
        services.incident_move(incident=incident, to="retrospect", actor=responder)
    with pytest.raises(lifecycle.CannotClose, match="already closed"):
        services.incident_close(incident=incident, actor=responder)


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ORDER[:-1])
def test_closing_before_retrospect_is_refused(declared, responder, stage):
    if stage != "detect":
        services.incident_move(incident=declared, to=stage, actor=responder)
    with pytest.raises(lifecycle.CannotClose, match="retrospect"):
        services.incident_close(incident=declared, actor=responder)
    declared.refresh_from_db()
    assert declared.closed_at is None


@pytest.mark.django_db
def test_sev2_closes_once_the_postmortem_hook_says_published(responder, postmortem_check_restored):
    incident = services.incident_declare(title="Down", severity=severity("SEV2"), actor=responder)
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    lifecycle.set_postmortem_check(lambda inc: inc.pk == incident.pk)
    services.incident_close(incident=incident, actor=responder)
    incident.refresh_from_db()
    assert incident.closed_at is not None


@pytest.mark.django_db
def test_durations_of_a_real_incident(responder):
    now = timezone.now()
    incident = services.incident_declare(
        title="Late detection",
        severity=severity("SEV4"),
        actor=responder,
        started_at=now - timedelta(minutes=30),
        detected_at=now - timedelta(minutes=20),
    )
    services.incident_move(incident=incident, to="recover", actor=responder)
    incident.refresh_from_db()
    d = lifecycle.durations(incident, now=timezone.now(), first_decision_at=None)
    assert d.time_to_detect == timedelta(minutes=10)
    assert d.time_to_propagate is None and d.time_to_decide is None
    assert d.time_to_recover >= timedelta(minutes=20)
