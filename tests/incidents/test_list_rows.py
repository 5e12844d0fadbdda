"""The incident list's table body is written in Python (``incidents.list_rows``): each
cell is the markup the shared filters and partials write, and every value is escaped."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.templatetags.keel import person
from common.timezones import time_element
from incidents import list_rows
from incidents.lifecycle import Outcome
from incidents.models import Incident
from incidents.selectors import IncidentListRow, incident_list_rows
from tests.factories.incidents import IncidentFactory, ServiceFactory

DETECTED = datetime(2026, 3, 29, 0, 30, 5, 123456, tzinfo=UTC)  # the night Paris moves to CEST


def row(**changes) -> IncidentListRow:
    values = {
        "pk": 7,
        "title": "Checkout 502s",
        "private": False,
        "stage": "judge",
        "outcome": "",
        "duplicate_of_id": None,
        "detected_at": DETECTED,
        "closed_at": None,
        "severity_code": "SEV2",
        "severity_name": "Major",
        "severity_rank": 2,
        "commander_username": "ada",
        "commander_first_name": "Ada",
        "commander_last_name": "Lovelace",
        "services": ("Checkout", "Payments"),
        **changes,
    }
    return IncidentListRow(**values)


@dataclass
class Problem:
    audience: str
    reason: str


@pytest.mark.parametrize(
    ("username", "first", "last"),
    [("ada", "Ada", "Lovelace"), ("bob", "", ""), ("x<y>", "Gö<l>", ""), ("z", "", "O'Neil")],
)
def test_the_commander_is_written_as_the_person_filter_writes_a_user(username, first, last):
    user = get_user_model()(username=username, first_name=first, last_name=last)
    written = list_rows.table_rows(
        [row(commander_username=username, commander_first_name=first, commander_last_name=last)],
        {},
    )
    assert f'<td data-label="Commander">{person(user)}</td>' in written
    nobody = list_rows.table_rows([row(commander_username=None)], {})
    assert f'<td data-label="Commander">{person(None)}</td>' in nobody


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns"])
@pytest.mark.parametrize("hours", [0, 1, 2, 5000])
def test_detected_is_written_as_time_element_writes_it_in_the_readers_zone(zone, hours):
    at = DETECTED + timedelta(hours=hours)
    with timezone.override(zone):
        written = list_rows.table_rows([row(detected_at=at)], {})
        assert f'<td data-label="Detected">{time_element(at)}</td>' in written


@pytest.mark.parametrize(
    ("outcome", "closed"),
    [("", False), (Outcome.RESOLVED, True), *((outcome, True) for outcome in Outcome)],
)
def test_how_it_ended_is_written_as_the_outcome_badge_partial_writes_it(outcome, closed):
    closed_at = DETECTED if closed else None
    duplicate_of = 3 if outcome == Outcome.DUPLICATE else None
    incident = Incident(pk=7, outcome=outcome, closed_at=closed_at, duplicate_of_id=duplicate_of)
    expected = render_to_string("incidents/partials/outcome_badge.html", {"incident": incident})
    shown = row(outcome=outcome, closed_at=closed_at, duplicate_of_id=duplicate_of)
    assert list_rows._ending(shown) == expected.strip()


def test_a_row_escapes_what_people_wrote_and_links_the_incident():
    html = list_rows.table_rows(
        [row(title='<script>alert("x")</script> & co', services=("A&B",), private=True)],
        {7: [Problem("CS <team>", 'refused "it"'), Problem("Ops", "gone")]},
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</a>" in html
    assert '<td data-label="Services">A&amp;B</td>' in html
    assert '<a href="/incidents/7/">' in html
    assert 'href="/incidents/7/#communications-banner"' in html
    assert 'title="CS &lt;team&gt;: refused &quot;it&quot; · Ops: gone"' in html
    assert "2 deliveries not sent" in html
    assert "Visible only to participants and admins" in html
    assert html.count("<tr ") == 1 and html.count("</tr>") == 1


def test_a_row_without_services_commander_or_problems_says_so_plainly():
    html = list_rows.table_rows(
        [row(services=(), commander_username=None, closed_at=DETECTED, outcome="resolved")], {}
    )
    assert '<tr class="is-closed">' in html
    assert '<td data-label="Services"><span class="muted">—</span></td>' in html
    assert '<td data-label="Commander"><span class="muted">—</span></td>' in html
    assert '<span class="badge state-closed">Closed</span>' in html
    assert "delivery-problem" not in html and "badge private" not in html
    assert '<td data-label="Open for">0s</td>' in html


@pytest.mark.django_db
def test_the_rows_name_their_services_in_their_order_with_the_incident():
    incident, bare = IncidentFactory(), IncidentFactory()
    incident.services.add(
        ServiceFactory(name="Zeta", tier=1),
        ServiceFactory(name="Alpha", tier=2),
        ServiceFactory(name="Beta", tier=1),
    )
    with CaptureQueriesContext(connection) as queries:
        rows = {row.pk: row for row in incident_list_rows([incident.pk, bare.pk])}
    assert len(queries) == 1
    assert rows[incident.pk].services == ("Beta", "Zeta", "Alpha")
    assert rows[bare.pk].services == ()
