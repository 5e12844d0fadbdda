"""The report's figures against the hand-computed fixture (tests/reports/fixtures.py).
CI runs this file on PostgreSQL (the suite) and again on SQLite (.ci/run)."""

from decimal import Decimal

import pytest

from reports import figures, selectors, stats
from tests.factories.notifications import audience
from tests.reports import fixtures

pytestmark = pytest.mark.django_db


def _report(user, **filters):
    facts = selectors.report_facts(user=user, filters=filters)
    return figures.report_build(facts, now=fixtures.NOW)


def _rows(table, dimension=None):
    return {
        tuple(row[:2]): row[2:] for row in table.rows if dimension is None or row[0] == dimension
    }


@pytest.fixture
def fixture(responder):
    return fixtures.build(responder)


def test_median_and_nearest_rank_p90():
    assert stats.median([]) is None and stats.p90([]) is None
    assert stats.median([0, 10, 20]) == 10
    assert stats.median([10, 20]) == 15
    assert stats.p90([0, 10, 20]) == 20  # ⌈2.7⌉ = 3rd
    assert stats.p90(list(range(1, 11))) == 9  # ⌈9⌉ = 9th of 1..10
    assert stats.p90(list(range(1, 12))) == 10  # ⌈9.9⌉ = 10th of 1..11


def test_time_to_detect_by_severity_service_and_month(responder, fixture):
    # A 10 min (SEV1, Checkout, 2026-10), B 20 (SEV2, Checkout, 2026-10), C 0 (SEV2,
    # Search, 2026-11); the false alarm, the duplicate and the private one are out.
    rows = _rows(_report(responder).table("time_to_detect"))
    assert rows[("All", "")] == [10, 20, 3]
    assert rows[("Severity", "SEV1")] == [10, 10, 1]
    assert rows[("Severity", "SEV2")] == [10, 20, 2]
    assert rows[("Service", "Checkout")] == [15, 20, 2]
    assert rows[("Service", "Search")] == [0, 0, 1]
    assert rows[("Month", "2026-10")] == [15, 20, 2]
    assert rows[("Month", "2026-11")] == [0, 0, 1]


def test_propagation_is_the_first_delivery_per_audience(responder, fixture):
    report = _report(responder)
    # Responders: first sent at +3 (not the +7 one, not the personal notice at +1).
    responders = report.table(f"time_to_propagate_{audience('responders').pk}")
    assert _rows(responders)[("All", "")] == [3, 3, 1]
    cs = report.table(f"time_to_propagate_{audience('cs').pk}")
    assert _rows(cs)[("All", "")] == [12, 12, 1]
    # Business: its only delivery failed, so nobody there was told.
    business = report.table(f"time_to_propagate_{audience('business').pk}")
    assert _rows(business)[("All", "")] == [None, None, 0]


def test_decide_recover_publish_and_action_items_done(responder, fixture):
    report = _report(responder)
    # A: judged at +5; B skipped judge, first decision at +8; C judged at +10.
    assert _rows(report.table("time_to_decide"))[("All", "")] == [8, 10, 3]
    # B was reopened: measured to its last recovery (+60).
    assert _rows(report.table("time_to_recover"))[("All", "")] == [60, 120, 3]
    # A: recovered at +30 min, published at +1 day → 1,410 min.
    assert _rows(report.table("recovered_to_published"))[("All", "")] == [1410, 1410, 1]
    # A: published +1 day, last item done +5 days → 4 days; B has an open item.
    assert _rows(report.table("published_to_actions_done"))[("All", "")] == [5760, 5760, 1]


def test_detection_counts_patterns_and_impact(responder, fixture):
    report = _report(responder)
    assert report.table("detected_before_customers").rows == [
        ["Monitoring / alert", 1, 1, 100.0],
        ["Customer report", 1, 0, 0.0],
        ["Internal (staff noticed)", 1, 0, 0.0],
        ["All sources", 3, 1, 33.3],
    ]
    assert report.table("incidents_by_service").rows == [["Checkout", 2], ["Search", 1]]
    assert [row[1] for row in report.table("incidents_by_category").rows] == [2, 1]
    assert report.table("failure_patterns").rows == [
        ["Cascading failure", 2],
        ["Capacity", 1],
        ["Dependency failure", 1],
    ]
    assert report.table("failure_pattern_trend").rows == [
        ["2026-10", "Cascading failure", 2],
        ["2026-10", "Dependency failure", 1],
        ["2026-11", "Capacity", 1],
    ]
    assert report.table("sla_and_loss").rows == [
        ["2026-10", 2, 40, Decimal("1500")],
        ["2026-11", 1, 0, 0],
    ]


def test_update_cadence_kept_and_missed(responder, fixture):
    # A (SEV1, 30 min): +2 kept the first promise (due +30), +6 the second (due +40);
    # the next (+36) falls after recovery (+30). B (SEV2, 60): update at +50 kept.
    # C: nothing by +60, missed.
    assert _report(responder).table("update_cadence").rows == [
        ["SEV1", 2, 0, 100.0],
        ["SEV2", 1, 1, 50.0],
    ]


def test_action_items_by_team_and_owner(responder, fixture):
    report = _report(responder)
    # Open, overdue, done on time, done late, total.
    assert report.table("action_items_by_owner").rows == [
        ["alice", 0, 0, 1, 1, 2],
        ["bob", 1, 1, 0, 0, 1],
    ]
    assert report.table("action_items_by_team").rows == [["Payments", 1, 1, 1, 1, 3]]


def test_false_alarms_and_duplicates_are_listed_as_excluded(responder, fixture):
    report = _report(responder)
    excluded = report.table("excluded").rows
    assert [row[:3] for row in excluded] == [
        [fixture["false_alarm"].pk, "Flaky probe", "False alarm"],
        [fixture["duplicate"].pk, "Checkout errors again", "Duplicate"],
    ]
    assert excluded[1][4] == f"#{fixture['a'].pk}"
    assert {i.pk for i in report.measured} == {fixture[k].pk for k in ("a", "b", "c")}


def test_private_incidents_count_only_for_who_may_see_them(responder, admin_user, fixture):
    assert fixture["private"].pk not in {i.pk for i in _report(responder).measured}
    admin_report = _report(admin_user)
    assert fixture["private"].pk in {i.pk for i in admin_report.measured}
    assert _rows(admin_report.table("time_to_detect"))[("All", "")][2] == 4


def test_filters_narrow_every_table(responder, fixture):
    by_service = _report(responder, service="search")
    assert {i.pk for i in by_service.measured} == {fixture["c"].pk}
    by_pattern = _report(responder, failure_pattern="cascading")
    assert {i.pk for i in by_pattern.measured} == {fixture["a"].pk, fixture["b"].pk}
    by_team = _report(responder, team="discovery", severity="SEV2")
    assert {i.pk for i in by_team.measured} == {fixture["c"].pk}
    by_period = _report(responder, start=fixtures.T, end=fixtures.T + fixtures.MIN * 60 * 24 * 25)
    assert {i.pk for i in by_period.measured} == {fixture["a"].pk, fixture["b"].pk}
