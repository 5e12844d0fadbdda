"""CSV exports outside the reports page: the incident list with its filters, an
incident's timeline, the action items; every text cell defused against formulas."""

import csv
import io

import pytest

from common.csv_export import safe_cell
from tests.factories.incidents import IncidentFactory, TimelineEventFactory
from tests.reports import fixtures

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain = text", "plain = text"),
        (-5, -5),
        (None, ""),
        (True, "yes"),
    ],
)
def test_safe_cell(value, written):
    assert safe_cell(value) == written


def test_incident_list_csv_follows_the_filters_and_defuses_formulas(client, responder):
    found = fixtures.build(responder)
    client.force_login(responder)
    rows = _csv(client.get("/incidents/export.csv?service=checkout&status=open"))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["id", "title", "severity"]
    assert {int(row[0]) for row in body} == {found["a"].pk, found["b"].pk}
    titles = {row[1] for row in body}
    assert '\'=HYPERLINK("http://evil")' in titles
    # The private incident of someone else never appears.
    everything = _csv(client.get("/incidents/export.csv"))
    assert str(found["private"].pk) not in {row[0] for row in everything[1:]}


def test_timeline_csv_oldest_first_and_private_is_404(client, responder):
    incident = IncidentFactory(created_by=responder, commander=responder)
    TimelineEventFactory(incident=incident, text="=cmd|' /C calc'!A0", occurred_at=fixtures.T)
    TimelineEventFactory(incident=incident, text="second", occurred_at=fixtures.NOW)
    client.force_login(responder)
    rows = _csv(client.get(f"/incidents/{incident.pk}/timeline.csv"))
    assert rows[0][:5] == ["occurred_at", "kind", "actor", "source", "text"]
    assert [row[4] for row in rows[1:]] == ["'=cmd|' /C calc'!A0", "second"]
    hidden = IncidentFactory(private=True)
    assert client.get(f"/incidents/{hidden.pk}/timeline.csv").status_code == 404


def test_action_items_csv(client, responder):
    fixtures.build(responder)
    client.force_login(responder)
    rows = _csv(client.get("/postmortems/action-items.csv?owner=alice"))
    assert rows[0][3] == "title"
    assert sorted(row[3] for row in rows[1:]) == ["'@SUM(A1)", "Add a breaker"]
