"""The snapshot: atomic publish, served from files only, up while the database is down."""

import os
import socket

import pytest
from django.db import OperationalError, connections
from django.test import Client
from django.utils import timezone

from statuspage import snapshot

PUBLIC_PATHS = ["/status/", "/status/history/", "/api/v2/summary.json", "/api/v2/status.json"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_publish_swaps_a_complete_release_atomically(components, snapshot_dir):
    first = snapshot.snapshot_publish()
    second = snapshot.snapshot_publish()
    link = snapshot_dir / "current"
    assert link.is_symlink() and os.path.realpath(link) == str(second.resolve())
    assert first != second
    assert (second / "status/index.html").exists() and (second / "manifest.json").exists()
    assert not [p for p in (snapshot_dir / "releases").iterdir() if p.name.startswith(".tmp")]
    assert snapshot.generated_at() is not None


@pytest.mark.django_db
def test_old_releases_are_pruned(components, snapshot_dir, settings):
    settings.STATUSPAGE_SNAPSHOT_KEEP = 2
    for _ in range(4):
        snapshot.snapshot_publish()
    assert len(list((snapshot_dir / "releases").iterdir())) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_served_with_cache_headers_and_no_cookies(components, path):
    snapshot.snapshot_publish()
    client = Client()
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("public, max-age=30")
    assert "stale-if-error" in response["Cache-Control"]
    assert response["ETag"] and response["Last-Modified"]
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


@pytest.mark.django_db
def test_the_page_shows_when_it_was_generated(components):
    snapshot.snapshot_publish()
    body = Client().get("/status/").content.decode()
    assert "Generated <time datetime=" in body


@pytest.mark.django_db
def test_unknown_paths_are_404_and_traversal_is_refused(components):
    snapshot.snapshot_publish()
    assert Client().get("/status/nope.html").status_code == 404
    assert Client().get("/status/../manifest.json").status_code == 404
    assert Client().get("/api/v2/../../manifest.json").status_code == 404


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_status_page_and_summary_survive_a_dead_database(components, settings):
    # Transactional tests may run after a flush: build every row here, nothing seeded.
    from statuspage import services
    from statuspage.models import PublicIncident
    from tests.factories.incidents import IncidentFactory, SeverityFactory

    public = PublicIncident.objects.create(
        incident=IncidentFactory(severity=SeverityFactory(code="XDEAD")),
        name="API errors",
        impact="critical",
        started_at=timezone.now(),
    )
    public.components.add(components["api"])
    services.component_set_status(component=components["api"], status="major_outage")
    snapshot.snapshot_publish()
    # Redis and the broker are gone too.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    connection = connections["default"]
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-keel-dir/dead.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        with pytest.raises(OperationalError):
            connection.ensure_connection()
        client = Client()
        page = client.get("/status/")
        summary = client.get("/api/v2/summary.json")
        assert page.status_code == 200 and b"API errors" in page.content
        assert summary.status_code == 200
        assert summary.json()["status"]["indicator"] == "critical"
        assert client.get("/status/feed.atom").status_code == 200
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@pytest.mark.django_db
def test_readiness_reports_a_stale_snapshot(components, settings):
    from datetime import timedelta

    from django.utils import timezone

    from common import health
    from statuspage.health import check_statuspage_snapshot

    assert check_statuspage_snapshot() is None  # none yet: nothing is stale
    snapshot.snapshot_publish()
    fresh = check_statuspage_snapshot()
    assert fresh.ok and fresh.detail.endswith("s old")
    snapshot.snapshot_publish(now=timezone.now() - timedelta(hours=2))
    stale = check_statuspage_snapshot()
    assert not stale.ok and "limit 900 s" in stale.detail
    names = [check.name for check in health.readiness()]
    assert "statuspage_snapshot" in names


@pytest.mark.django_db
def test_a_burst_of_publish_requests_renders_once(components):
    from django.utils import timezone

    from statuspage.tasks import statuspage_publish_snapshot_task

    requested = timezone.now().isoformat()
    first = statuspage_publish_snapshot_task.run(requested)
    assert first != "fresh"
    assert statuspage_publish_snapshot_task.run(requested) == "fresh"


@pytest.mark.django_db
def test_head_has_no_body_but_the_length(components):
    snapshot.snapshot_publish()
    response = Client().head("/api/v2/summary.json")
    assert response.status_code == 200 and response.content == b""
    assert int(response["Content-Length"]) > 100
