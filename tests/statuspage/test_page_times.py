"""Times on the status page read right without JavaScript: UTC, labelled, no stray
space before the sentence goes on (localtime.js adds the reader's own time)."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from statuspage import snapshot
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
GENERATED = datetime(2026, 12, 1, 13, 4, tzinfo=UTC)


def test_the_footer_says_when_in_utc(components):
    snapshot.snapshot_publish(now=GENERATED)
    html = Client().get("/status/").content.decode()
    assert (
        'Generated <time datetime="2026-12-01T13:04:00+00:00" data-local>1 Dec 2026, 13:04 UTC'
        "</time>. This page is a static snapshot" in html
    )
    assert '<script src="/status/localtime.js" defer></script>' in html
    script = Client().get("/status/localtime.js").content.decode()
    assert 'timeZone: "UTC"' in script and "your time)" in script


def test_incident_times_are_labelled_utc(incident, responder, components):
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    snapshot.snapshot_publish()
    public = incident.public_incidents.get()
    html = Client().get(f"/status/incidents/{public.public_id}/").content.decode()
    times = html.count("<time ")
    assert times >= 2 and html.count(" UTC</time>") == times
