"""A publish reuses the previous release's pages whose content did not change, and
renders again every page whose bytes would differ; the history is paginated."""

import json
import os
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from statuspage import catalog, fingerprints, pages, snapshot
from statuspage.models import PublicIncident, PublicIncidentUpdate
from tests.factories.incidents import IncidentFactory

pytestmark = pytest.mark.django_db


def public_incident(component, name, *, days_ago=3, resolved=True):
    start = timezone.now() - timedelta(days=days_ago, hours=2)
    public = PublicIncident.objects.create(
        incident=IncidentFactory(detected_at=start, started_at=start),
        name=name,
        status="resolved" if resolved else "investigating",
        impact="minor",
        started_at=start,
        resolved_at=start + timedelta(hours=1) if resolved else None,
    )
    public.components.set([component])
    PublicIncidentUpdate.objects.create(
        public_incident=public,
        status=public.status,
        body=f"{name}: what happened.",
        display_at=start,
        created_at=start,
    )
    return public


def page_of(public) -> str:
    return f"status/incidents/{public.public_id}/index.html"


def same_file(first, second, rel) -> bool:
    return os.path.samefile(first / rel, second / rel)


@pytest.fixture
def past(components):
    return public_incident(components["api"], "Slow dashboards")


@pytest.fixture
def ongoing(components):
    return public_incident(components["email"], "Email delays", days_ago=0, resolved=False)


def test_an_unrelated_update_keeps_the_past_incidents_page_byte_for_byte(past, ongoing):
    first = snapshot.snapshot_publish()
    PublicIncidentUpdate.objects.create(
        public_incident=ongoing,
        status="identified",
        body="We found the queue that backs up.",
        display_at=timezone.now(),
        created_at=timezone.now(),
    )
    second = snapshot.snapshot_publish()

    rel = page_of(past)
    assert (second / rel).read_bytes() == (first / rel).read_bytes()
    assert same_file(first, second, rel)  # linked, not rendered again
    ongoing_page = (second / page_of(ongoing)).read_text()
    assert "We found the queue that backs up." in ongoing_page
    assert not same_file(first, second, page_of(ongoing))
    manifest = json.loads((second / snapshot.MANIFEST).read_text())["files"]
    before = json.loads((first / snapshot.MANIFEST).read_text())["files"]
    assert manifest[rel] == before[rel]  # the same ETag: readers' caches stay valid
    response = Client().get(f"/status/incidents/{past.public_id}/")
    assert response.status_code == 200 and response["ETag"] == before[rel]["etag"]


def test_a_release_without_changes_renders_no_incident_page(past, ongoing):
    snapshot.snapshot_publish()
    previous = {
        rel: meta["fingerprint"]
        for rel, meta in json.loads((snapshot.current_release() / snapshot.MANIFEST).read_text())[
            "files"
        ].items()
        if "fingerprint" in meta
    }
    rendered = snapshot.render_all(now=timezone.now(), previous=previous)
    assert not [rel for rel in rendered.files if rel.startswith("status/incidents/")]
    assert {page_of(past), page_of(ongoing), "status/history/index.html"} <= (rendered.kept)
    assert "status/index.html" in rendered.files  # rendered on every publish


def test_renaming_the_page_renders_the_past_pages_again(past, admin_user):
    first = snapshot.snapshot_publish()
    catalog.page_settings_update(actor=admin_user, name="Acme Cloud", time_zone="UTC")
    second = snapshot.snapshot_publish()

    rel = page_of(past)
    assert not same_file(first, second, rel)
    assert "Acme Cloud status" in (second / rel).read_text()
    assert "Acme Cloud status" in (second / "status/history/index.html").read_text()


def test_changing_the_time_zone_renders_the_past_pages_again(past, admin_user):
    first = snapshot.snapshot_publish()
    name = pages.page_settings_current().name
    catalog.page_settings_update(actor=admin_user, name=name, time_zone="Europe/Paris")
    second = snapshot.snapshot_publish()

    rel = page_of(past)
    assert not same_file(first, second, rel)
    assert 'data-zone="Europe/Paris"' in (second / rel).read_text()
    assert 'data-zone="Europe/Paris"' not in (first / rel).read_text()


def test_editing_a_past_incidents_update_renders_its_page_again(past, ongoing):
    first = snapshot.snapshot_publish()
    update = past.updates.get()
    update.body = "Slow dashboards: a full disk on one replica."
    update.save()
    second = snapshot.snapshot_publish()

    rel = page_of(past)
    assert not same_file(first, second, rel)
    assert "a full disk on one replica" in (second / rel).read_text()
    assert same_file(first, second, page_of(ongoing))


def test_renaming_a_component_renders_the_pages_that_name_it(past, ongoing, components, admin_user):
    first = snapshot.snapshot_publish()
    api = components["api"]
    catalog.component_update(
        component=api,
        actor=admin_user,
        name="Public API",
        description="",
        group=api.group,
        services_mapped=[],
    )
    second = snapshot.snapshot_publish()

    assert "Affected components: Public API" in (second / page_of(past)).read_text()
    assert same_file(first, second, page_of(ongoing))  # it names Email delivery


def test_new_templates_render_every_page_again(past, monkeypatch):
    first = snapshot.snapshot_publish()
    monkeypatch.setattr(fingerprints, "renderer_version", lambda: "a deploy later")
    second = snapshot.snapshot_publish()
    assert not same_file(first, second, page_of(past))


def test_a_change_to_the_code_that_fills_the_pages_changes_the_renderer(
    settings, tmp_path, monkeypatch
):
    settings.BASE_DIR = tmp_path
    source = tmp_path / "pages.py"
    source.write_text("SHOWN = 1\n")
    monkeypatch.setattr(fingerprints, "RENDERER_SOURCES", (source,))
    fingerprints.renderer_version.cache_clear()
    try:
        before = fingerprints.renderer_version()
        source.write_text("SHOWN = 2\n")
        fingerprints.renderer_version.cache_clear()
        assert fingerprints.renderer_version() != before
    finally:
        fingerprints.renderer_version.cache_clear()


def test_a_file_missing_from_the_live_release_is_rendered_again(past):
    first = snapshot.snapshot_publish()
    (first / page_of(past)).unlink()
    second = snapshot.snapshot_publish()

    body = (second / page_of(past)).read_text()
    assert "Slow dashboards" in body
    assert not [p for p in (snapshot.root() / "releases").iterdir() if p.name.startswith(".tmp")]


def test_the_history_is_paginated_and_the_older_pages_are_kept(components, monkeypatch):
    monkeypatch.setattr(pages, "HISTORY_PAGE_SIZE", 2)
    names = [f"Outage {n}" for n in range(5)]  # Outage 0 is the newest
    for days_ago, name in enumerate(names, start=1):
        public_incident(components["api"], name, days_ago=days_ago)
    first = snapshot.snapshot_publish()
    client = Client()

    newest = client.get("/status/history/").content.decode()
    middle = client.get("/status/history/2/").content.decode()
    oldest = client.get("/status/history/3/").content.decode()
    assert "Outage 0" in newest and "Outage 1" in newest and "Outage 2" not in newest
    assert "Outage 2" in middle and "Outage 3" in middle and "Outage 4" in oldest
    assert 'href="/status/history/2/" rel="next">Older incidents' in newest
    assert 'href="/status/history/" rel="prev">← Newer incidents' in middle
    assert "Page 3 of 3" in oldest and "Older incidents" not in oldest

    # An update of the newest incident changes the first page only.
    latest = PublicIncident.objects.get(name="Outage 0")
    latest.name = "Outage 0, explained"
    latest.save()
    second = snapshot.snapshot_publish()
    assert "Outage 0, explained" in (second / "status/history/index.html").read_text()
    assert same_file(first, second, "status/history/2/index.html")
    assert same_file(first, second, "status/history/3/index.html")


def test_a_bar_links_to_the_history_page_that_lists_its_day(components, monkeypatch):
    from statuspage.models import ComponentStatusChange

    monkeypatch.setattr(pages, "HISTORY_PAGE_SIZE", 1)
    api = components["api"]
    ComponentStatusChange.objects.create(
        component=api, status="operational", changed_at=timezone.now() - timedelta(days=30)
    )
    public_incident(api, "Newest", days_ago=1)
    for name in ("Twin one", "Twin two"):
        public_incident(api, name, days_ago=5)
    snapshot.snapshot_publish()

    index = Client().get("/status/").content.decode()
    day = (timezone.now() - timedelta(days=5, hours=2)).date().isoformat()
    assert f'href="/status/history/2/#day-{day}"' in index


def test_an_unresolved_incident_older_than_the_history_limit_keeps_its_page(
    components, monkeypatch
):
    """The front page lists every unresolved incident and links its page: one that
    started before the latest HISTORY_LIMIT incidents still gets that page."""
    monkeypatch.setattr(pages, "HISTORY_LIMIT", 2)
    lingering = public_incident(components["email"], "Email delays", days_ago=40, resolved=False)
    for days_ago in (1, 2, 3):
        public_incident(components["api"], f"Outage {days_ago}", days_ago=days_ago)
    snapshot.snapshot_publish()
    client = Client()

    front = client.get("/status/").content.decode()
    assert f'href="/status/incidents/{lingering.public_id}/"' in front
    page = client.get(f"/status/incidents/{lingering.public_id}/")
    assert page.status_code == 200
    assert "Email delays: what happened." in page.content.decode()
    # The limit still holds for the resolved ones: the oldest has no page any more.
    oldest = PublicIncident.objects.get(name="Outage 3")
    assert client.get(f"/status/incidents/{oldest.public_id}/").status_code == 404
