"""The quality check: one test per rule (failing, then passing), and the crossed-at
computation on series that cross, never cross and cross twice."""

from datetime import UTC, date, datetime, timedelta

import pytest

from postmortems import crossing, quality, services
from postmortems.models import ActionItem
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _series(*values, step_minutes=1):
    return [
        [(T0 + timedelta(minutes=i * step_minutes)).isoformat().replace("+00:00", "Z"), v]
        for i, v in enumerate(values)
    ]


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def pm(rita):
    return started_postmortem(actor=rita)


def _save(pm, actor, **sections):
    pm.refresh_from_db()
    return services.postmortem_update(
        postmortem=pm, actor=actor, expected_version=pm.version, sections=sections
    )


def _check(pm, key) -> quality.Check:
    pm.refresh_from_db()
    return next(c for c in quality.quality_check(pm) if c.key == key)


# --- crossed at ---------------------------------------------------------------------


def test_a_series_that_crosses_once_gives_its_time_and_the_readings():
    series = _series(100, 120, 700, 900, 650, 110)
    reading = crossing.read_series(
        series, 500, impact_began=T0 + timedelta(minutes=2), recovered=T0 + timedelta(minutes=4)
    )
    assert reading.crossed_at == series[2][0]
    assert reading.crossings == [series[2][0]]
    assert (reading.before, reading.during, reading.after) == (120, 900, 110)


def test_a_series_that_never_crosses_has_no_crossing():
    reading = crossing.read_series(_series(100, 200, 300), 500)
    assert reading.crossed_at is None and reading.crossings == []
    assert reading.during == 300


def test_a_series_that_crosses_twice_gives_both_and_the_first_as_crossed_at():
    series = _series(100, 600, 100, 700, 100)
    reading = crossing.read_series(series, 500)
    assert reading.crossings == [series[1][0], series[3][0]]
    assert reading.crossed_at == series[1][0]


def test_a_falling_metric_crosses_by_going_below():
    # Starts above its threshold (success rate 99.9 %, threshold 99): the bad side is below.
    series = _series(99.9, 99.8, 97.0, 99.5)
    assert crossing.crossings(series, 99) == [series[2][0]]
    assert crossing.read_series(series, 99).during == 97.0


def test_saving_a_pasted_series_fills_crossed_at_before_during_after(pm, rita):
    incident = pm.incident
    start = incident.started_at
    middle = start + (incident.recovered_at - start) / 2
    points = [
        [(start - timedelta(minutes=5)).isoformat(), 100],
        [middle.isoformat(), 800],
        [(incident.recovered_at + timedelta(minutes=5)).isoformat(), 120],
    ]
    _save(pm, rita, metrics={"rows": [{"name": "p99", "threshold": 500, "series": points}]})
    row = pm.sections.get(key="metrics").content["rows"][0]
    assert (row["before"], row["during"], row["after"]) == (100, 800, 120)
    assert row["crossed_at"].startswith(middle.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    # What the author typed stays.
    _save(pm, rita, metrics={"rows": [{**row, "before": 90, "crossed_at": None}]})
    row = pm.sections.get(key="metrics").content["rows"][0]
    assert row["before"] == 90 and row["crossed_at"] is not None


# --- one test per rule --------------------------------------------------------------


def test_impact_must_be_quantified(pm):
    assert not _check(pm, "impact").passed
    pm.incident.affected_users_count = 1200
    pm.incident.save(update_fields=["affected_users_count"])
    assert _check(pm, "impact").passed


def test_detection_must_say_before_customers(pm):
    check = _check(pm, "detection")  # the pre-filled text is there; the answer is not
    assert not check.passed and "before customers" in check.reason
    pm.incident.detected_before_customers = True
    pm.incident.save(update_fields=["detected_before_customers"])
    assert _check(pm, "detection").passed


def test_the_trigger_is_written_apart_from_the_root_cause(pm, rita):
    _save(pm, rita, root_cause={"text": "The deploy broke checkout."})
    assert not _check(pm, "trigger").passed
    _save(pm, rita, root_cause={"text": "**Trigger:** the 14:02 deploy."})
    assert "Beyond the trigger" in _check(pm, "trigger").reason
    _save(
        pm,
        rita,
        root_cause={"text": "**Trigger:** the 14:02 deploy.\n\nNo canary: it reached everyone."},
    )
    assert _check(pm, "trigger").passed


def test_a_contributing_factor_and_a_failure_pattern_are_needed(pm, rita):
    check = _check(pm, "factors")
    assert not check.passed and "contributing factor and a failure pattern" in check.reason
    _save(
        pm,
        rita,
        root_cause={"contributing_factors": ["No canary"], "failure_patterns": ["change"]},
    )
    assert _check(pm, "factors").passed


def test_every_threshold_says_when_it_was_crossed(pm, rita):
    _save(pm, rita, metrics={"rows": [{"name": "p99", "threshold": 500}]})
    check = _check(pm, "thresholds")
    assert not check.passed and "p99" in check.reason
    # A series that never crosses answers it; so does a typed time.
    _save(
        pm,
        rita,
        metrics={
            "rows": [
                {"name": "p99", "threshold": 500, "series": _series(100, 200)},
                {"name": "errors", "threshold": 5, "crossed_at": "2026-03-01T12:03:00Z"},
            ]
        },
    )
    check = _check(pm, "thresholds")
    assert check.passed and "1 never crossed" in check.reason


def test_the_chosen_remediation_needs_a_reason(pm, rita):
    # Pre-filled from the judge-stage decision: chosen, with its rationale.
    assert _check(pm, "remediation").passed
    _save(pm, rita, remediations={"rows": [{"title": "Roll back", "chosen": False}]})
    assert not _check(pm, "remediation").passed


def test_every_action_item_needs_owner_due_date_and_kind_and_this_blocks_closing(pm, rita):
    assert _check(pm, "action_items").reason == "No action items yet."
    item = services.action_item_create(postmortem=pm, actor=rita, data={"title": "Add canary"})
    check = _check(pm, "action_items")
    assert not check.passed and "Add canary" in check.reason
    assert check.blocks == "closing the incident"
    services.action_item_update(
        item=item, actor=rita, data={"owner": "rita", "due_date": date(2026, 4, 1)}
    )
    assert _check(pm, "action_items").passed


def test_slow_detection_asks_for_a_detect_item(pm, rita, settings):
    settings.KEEL_SLOW_DETECTION_MINUTES = 15
    assert _check(pm, "detect_item").passed  # detected when impact began
    pm.incident.started_at = pm.incident.detected_at - timedelta(minutes=40)
    pm.incident.save(update_fields=["started_at"])
    check = _check(pm, "detect_item")
    assert not check.passed and "40 min to detect" in check.reason
    services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Alert on p99", "kind": ActionItem.Kind.DETECT}
    )
    assert _check(pm, "detect_item").passed


def test_customers_first_counts_as_slow(pm):
    pm.incident.detected_before_customers = False
    pm.incident.save(update_fields=["detected_before_customers"])
    assert "customers noticed first" in _check(pm, "detect_item").reason


def test_the_check_is_advisory_submit_still_works(pm, rita, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        checks = quality.quality_check(pm)
    assert quality.open_points(checks)
    bob = UserFactory(username="bob", role="responder")
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    pm.refresh_from_db()
    assert pm.status == "in_review"
