"""Action items verified by evidence (pasted series here; a real Prometheus in
tests/integration/test_evidence_prometheus.py) and the tracker an item links to."""

from datetime import UTC, datetime, timedelta

import pytest

from common.exceptions import InvalidInput
from postmortems import evidence, services
from postmortems.models import ActionItem, ActionItemEvidence
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _hourly(days: float, value=lambda i: 0.2):
    """Hourly points over ``days`` days ending at END."""
    count = int(days * 24)
    return [[(END - timedelta(hours=count - i)).isoformat(), value(i)] for i in range(count + 1)]


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def item(rita):
    pm = started_postmortem(actor=rita)
    return services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Circuit breaker", "kind": "prevent"}
    )


def _link(item, rita, **kwargs):
    values = {"metric": "checkout p99 (s)", "threshold": 0.5, "days": 7}
    return evidence.evidence_link(item=item, actor=rita, **{**values, **kwargs})


def test_a_series_below_its_threshold_for_n_days_is_verified(item, rita):
    link = _link(item, rita, series=_hourly(8))
    assert link.result == ActionItemEvidence.Result.VERIFIED
    assert link.verified_at is not None and link.checked_at is not None
    assert "Stayed below 0.5 for 7 d" in link.result_detail
    assert link.history.first().history_user == rita


def test_fewer_days_than_asked_is_not_yet_verified(item, rita):
    link = _link(item, rita, series=_hourly(3))
    assert link.result == ActionItemEvidence.Result.NOT_YET
    assert link.verified_at is None
    assert "72.0 h of the 7 d" in link.result_detail


def test_one_point_over_the_threshold_in_the_window_breaches(item, rita):
    link = _link(item, rita, series=_hourly(8, value=lambda i: 0.9 if i == 100 else 0.2))
    assert link.result == ActionItemEvidence.Result.BREACHED
    assert "1 point(s) on the wrong side of 0.5" in link.result_detail


def test_a_breach_older_than_the_window_does_not_count(item, rita):
    link = _link(item, rita, series=_hourly(10, value=lambda i: 0.9 if i == 5 else 0.2))
    assert link.result == ActionItemEvidence.Result.VERIFIED


def test_must_stay_above_reverses_the_sides(item, rita):
    series = _hourly(8, value=lambda i: 99.95)
    link = _link(item, rita, series=series, threshold=99.9, stay="above")
    assert link.result == ActionItemEvidence.Result.VERIFIED
    link = _link(item, rita, series=series, threshold=99.99, stay="above")
    assert link.result == ActionItemEvidence.Result.BREACHED


def test_a_recheck_that_breaches_unverifies(item, rita):
    link = _link(item, rita, series=_hourly(8))
    link.series = _hourly(8, value=lambda i: 0.7 if i == 190 else 0.2)
    link.save(update_fields=["series"])
    assert evidence.evidence_check(evidence_id=link.pk) == ActionItemEvidence.Result.BREACHED
    link.refresh_from_db()
    assert link.verified_at is None


def test_only_prevent_and_detect_items_are_linked(item, rita):
    item.kind = ActionItem.Kind.PROCESS
    item.save(update_fields=["kind"])
    with pytest.raises(InvalidInput) as error:
        _link(item, rita, series=_hourly(8))
    assert error.value.field == "kind"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"series": ""}, "series"),
        ({"series": "", "query": "up"}, "query"),  # no metrics source configured
        ({"series": "2026-03-01T00:00:00Z,abc"}, "series"),
        ({"series": {"a": 1}}, "series"),
        ({"threshold": "high"}, "threshold"),
        ({"days": 0}, "days"),
        ({"metric": "x" * 201}, "metric"),
        ({"stay": "sideways"}, "stay"),
    ],
)
def test_bad_input_names_its_field(item, rita, settings, kwargs, field):
    settings.KEEL_METRICS_QUERY_URL = ""
    with pytest.raises(InvalidInput) as error:
        _link(item, rita, **{"series": _hourly(8), **kwargs})
    assert error.value.field == field


def test_a_bad_point_is_named_by_its_number(item, rita):
    with pytest.raises(InvalidInput) as error:
        _link(item, rita, series="2026-03-01T00:00:00Z,1\n2026-03-01T01:00:00Z,abc")
    assert error.value.message == "Series, point 2: expected a number."


def test_a_pasted_csv_series_is_accepted(item, rita):
    csv = "time,value\n" + "\n".join(f"{at},{v}" for at, v in _hourly(8))
    assert _link(item, rita, series=csv).result == ActionItemEvidence.Result.VERIFIED


@pytest.mark.parametrize(
    ("url", "tracker"),
    [
        ("https://acme.atlassian.net/browse/OPS-142", ("Jira", "OPS-142")),
        ("https://jira.acme.test/browse/PAY-7", ("Jira", "PAY-7")),
        ("https://linear.app/acme/issue/ENG-88/add-a-canary", ("Linear", "ENG-88")),
        ("https://github.com/acme/checkout/issues/512", ("GitHub", "acme/checkout#512")),
        ("https://github.com/acme/checkout/pull/9", ("GitHub", "acme/checkout#9")),
    ],
)
def test_tracker_urls_show_their_tracker_and_key(url, tracker):
    assert evidence.tracker_of(url) == evidence.Tracker(*tracker)


def test_other_urls_name_no_tracker():
    assert evidence.tracker_of("https://wiki.acme.test/page") is None
    assert evidence.tracker_of("") is None
