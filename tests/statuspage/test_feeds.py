"""RSS and Atom feeds and the SVG badge, as served from the snapshot."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from statuspage import maintenance as maintenance_services
from statuspage import snapshot
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def published(incident, responder, components):
    publish(incident, responder, "Some API calls fail.", public_title="API errors",
            components={"api": "partial_outage"})  # fmt: skip
    publish(incident, responder, "Fixed and monitoring.", public_status="monitoring")
    maintenance_services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=timezone.now() + timedelta(days=2),
        scheduled_until=timezone.now() + timedelta(days=2, hours=1),
        components=[components["dashboard"]],
    )
    snapshot.snapshot_publish()


def test_rss_lists_incidents_and_maintenance_with_their_updates(published):
    response = Client().get("/status/feed.rss")
    assert response["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    items = {item.findtext("title"): item for item in channel.findall("item")}
    assert set(items) == {"API errors", "[Maintenance] Database upgrade"}
    incident = items["API errors"]
    assert "/status/incidents/" in incident.findtext("link")
    assert "Monitoring" in incident.findtext("description")
    assert "Some API calls fail." in incident.findtext("description")
    assert incident.findtext("guid")


def test_atom_has_entries_with_ids_and_updated_times(published):
    response = Client().get("/status/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert {e.findtext(f"{ATOM}title") for e in entries} == {
        "API errors",
        "[Maintenance] Database upgrade",
    }
    assert all(e.findtext(f"{ATOM}id") and e.findtext(f"{ATOM}updated") for e in entries)


@pytest.mark.parametrize(
    ("path", "ours", "content_type"),
    [
        ("/status/history.rss", "/status/feed.rss", "application/rss+xml"),
        ("/status/history.atom", "/status/feed.atom", "application/atom+xml"),
    ],
)
def test_the_feeds_are_also_at_statuspages_paths(published, path, ours, content_type):
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response.content == Client().get(ours).content


def test_badge_is_an_svg_with_the_overall_status(published):
    response = Client().get("/status/badge.svg")
    assert response["Content-Type"] == "image/svg+xml"
    svg = ET.fromstring(response.content)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("aria-label") == "Keel: Partial System Outage"
    assert response["Cache-Control"].startswith("public, max-age=30")


def test_a_missing_page_is_the_status_pages_own_404(published):
    response = Client().get("/status/incidents/no-such-incident/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Page not found" in body and 'href="/status/"' in body
    assert '<link rel="icon" href="/status/favicon.svg"' in body


def test_a_missing_api_document_is_a_json_404(published):
    response = Client().get("/api/v2/nothing.json")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found", "status": 404}


def test_the_favicon_is_in_the_snapshot(published):
    response = Client().get("/status/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in response.content
