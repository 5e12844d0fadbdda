"""The action item API's evidence and tracker: link a metric, read the verdict, bad
input named by field, and the item gated like its incident."""

from datetime import UTC, datetime, timedelta

import pytest

from postmortems import services
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db
END = datetime(2026, 3, 20, tzinfo=UTC)


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


def _series(days: int, value: float = 0.2) -> list:
    return [[(END - timedelta(hours=h)).isoformat(), value] for h in range(days * 24, -1, -1)]


@pytest.fixture
def item(rita):
    pm = started_postmortem(actor=rita)
    return services.action_item_create(
        postmortem=pm,
        actor=rita,
        data={
            "title": "Alert on p99",
            "kind": "detect",
            "tracker_url": "https://acme.atlassian.net/browse/OPS-142",
        },
    )


def test_linking_a_pasted_series_verifies_and_the_item_shows_it(as_user, rita, item):
    client = as_user(rita)
    url = f"/api/v1/action-items/{item.pk}/evidence/"
    body = {"metric": "p99 (s)", "threshold": 0.5, "days": 7, "series": _series(8)}
    answer = client.post(url, body, format="json")
    assert answer.status_code == 200, answer.data
    assert answer.data["tracker"] == {"name": "Jira", "key": "OPS-142"}
    shown = answer.data["evidence"]
    assert shown["result"] == "verified" and shown["verified"] is True
    assert (shown["stay"], shown["days"], shown["points"]) == ("below", 7, 8 * 24 + 1)
    listing = client.get("/api/v1/action-items/").data["results"]
    assert listing[0]["evidence"]["verified"] is True

    short = client.post(url, {**body, "series": _series(2)}, format="json")
    assert short.data["evidence"]["result"] == "not_yet"
    assert short.data["evidence"]["verified"] is False


def test_an_item_without_evidence_or_tracker_says_null(as_user, rita, item):
    item.tracker_url = "https://wiki.acme.test/page"
    item.save(update_fields=["tracker_url"])
    shown = as_user(rita).get(f"/api/v1/action-items/{item.pk}/").data
    assert shown["tracker"] is None and shown["evidence"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "x" * 201, "threshold": 1, "series": [["2026-03-01T00:00:00Z", 1]]}, "metric"),
        ({"metric": "p99", "threshold": "high", "series": "2026-03-01T00:00:00Z,1"}, "threshold"),
        ({"metric": "p99", "threshold": 1, "days": 91, "series": "x"}, "days"),
        ({"metric": "p99", "threshold": 1}, "series"),
    ],
)
def test_bad_evidence_is_a_400_naming_the_field(as_user, rita, item, body, field):
    answer = as_user(rita).post(f"/api/v1/action-items/{item.pk}/evidence/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.data["errors"], answer.data


def test_a_private_incident_s_item_is_a_404_to_others(as_user, rita, item):
    incident = item.postmortem.incident
    incident.private = True
    incident.save(update_fields=["private"])
    other = UserFactory(username="otto", role="responder")
    body = {"metric": "p99", "threshold": 1, "series": _series(8)}
    answer = as_user(other).post(f"/api/v1/action-items/{item.pk}/evidence/", body, format="json")
    assert answer.status_code == 404
