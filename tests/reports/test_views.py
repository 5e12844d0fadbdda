"""The reports page and its CSV downloads: who may open them, what they contain,
formula injection, and a query count that does not grow with the incidents."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.incidents import IncidentFactory, ServiceFactory
from tests.reports import fixtures

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_viewers_may_not_open_reports(client, viewer):
    client.force_login(viewer)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/time_to_detect.csv").status_code == 403


def test_the_page_shows_each_table_with_definition_chart_and_csv_link(client, responder):
    fixtures.build(responder)
    client.force_login(responder)
    page = client.get("/reports/?period=all")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="table-time_to_recover"' in html
    assert "From detection to reaching Recover" in html
    assert '<svg class="report-chart"' in html
    assert "/reports/excluded.csv?period=all" in html
    assert "Flaky probe" in html  # the false alarm, listed as excluded


def test_a_bad_filter_is_a_field_error(client, responder):
    client.force_login(responder)
    page = client.get("/reports/?period=custom&start=2026-10-10&end=2026-10-01&severity=SEV9")
    assert page.status_code == 400
    assert "must be on or after" in page.content.decode()
    assert "Select a valid choice" in page.content.decode()


def test_a_table_downloads_as_csv_with_the_filters(client, responder):
    fixtures.build(responder)
    client.force_login(responder)
    response = client.get("/reports/time_to_detect.csv?period=all&service=checkout")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="keel-report-time_to_detect.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["Group", "Value", "Median", "p90", "Measured"]
    assert ["All", "", "15.0", "20.0", "2"] in rows
    assert client.get("/reports/nothing.csv").status_code == 404


def test_report_csv_defuses_formulas(client, responder):
    fixtures.build(responder)
    client.force_login(responder)
    rows = _csv(client.get("/reports/excluded.csv?period=all"))
    # Excluded incident titles come from users; none is a formula here, but the
    # action items' owner table and every text cell go through the same writer.
    assert rows[0] == ["#", "Title", "Outcome", "Reason", "Duplicate of"]
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def _queries_for(client, count: int) -> int:
    service = ServiceFactory(slug=f"svc-{count}")
    for _ in range(count):
        incident = IncidentFactory(failure_patterns=["capacity"])
        incident.services.set([service])
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/reports/?period=all").status_code == 200
    return len(captured)


def test_the_page_makes_the_same_number_of_queries_for_more_incidents(client, responder):
    client.force_login(responder)
    few = _queries_for(client, 3)
    many = _queries_for(client, 30)
    assert few == many
    assert many <= 20


def test_chart_bars_are_labelled_by_the_text_columns():
    from reports.tables import Column, Table

    table = Table(
        key="t",
        title="T",
        definition="",
        columns=[Column("Month"), Column("Incidents", "count"), Column("SLA", "count")],
        rows=[["2026-10", 2, 40], ["2026-11", 1, None]],
        chart_column=2,
    )
    assert table.chart_points() == [("2026-10", 40.0)]
