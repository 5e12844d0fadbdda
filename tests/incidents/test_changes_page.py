"""The incident page's changes panel: the changes to its services in the window
before detection, newest first; a responder marks one as the trigger (recorded
on the incident, on the timeline and in the history) and clears it again."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import changes, history, services
from incidents.models import Change, Incident, TimelineEvent
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
Kind = TimelineEvent.Kind


@pytest.fixture
def checkout(db):
    return ServiceFactory(slug="checkout", name="Checkout")


def _change(service, *, hours_ago: float, version: str, actor, kind=Change.Kind.DEPLOY) -> Change:
    return changes.change_record(
        actor=actor,
        service=service,
        kind=kind,
        version=version,
        who="rita",
        at=timezone.now() - timedelta(hours=hours_ago),
        source="github-actions",
    )


def _declare(actor, *services_):
    return services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), services=list(services_), actor=actor
    )


def _panel(html: str) -> str:
    start = html.index('id="changes"')
    return html[start : html.index("</section>", start)]


def test_the_panel_lists_the_window_newest_first_and_only_the_incidents_services(
    client, responder, checkout, settings
):
    settings.KEEL_CHANGE_WINDOW_HOURS = 6
    search = ServiceFactory(slug="search")
    _change(checkout, hours_ago=7, version="too-old", actor=responder)
    _change(checkout, hours_ago=5, version="v-five", actor=responder)
    _change(checkout, hours_ago=1, version="v-one", actor=responder, kind=Change.Kind.CONFIG)
    _change(search, hours_ago=1, version="other-service", actor=responder)
    incident = _declare(responder, checkout)
    _change(checkout, hours_ago=-1, version="after-detection", actor=responder)

    client.force_login(responder)
    panel = _panel(client.get(reverse("incidents:detail", args=[incident.pk])).content.decode())
    assert "v-one" in panel and "v-five" in panel
    assert panel.index("v-one") < panel.index("v-five")
    assert "Config change" in panel
    for absent in ("too-old", "other-service", "after-detection"):
        assert absent not in panel
    assert "Mark as trigger" in panel

    settings.KEEL_CHANGE_WINDOW_HOURS = 8
    panel = _panel(client.get(reverse("incidents:detail", args=[incident.pk])).content.decode())
    assert "too-old" in panel


def test_viewers_see_the_changes_but_no_buttons(client, responder, viewer, checkout):
    _change(checkout, hours_ago=1, version="v-one", actor=responder)
    incident = _declare(responder, checkout)
    client.force_login(viewer)
    panel = _panel(client.get(reverse("incidents:detail", args=[incident.pk])).content.decode())
    assert "v-one" in panel
    assert "Mark as trigger" not in panel
    url = reverse("incidents:trigger_change", args=[incident.pk])
    assert client.post(url, {"change": Change.objects.get().pk}).status_code == 403


def test_an_incident_without_services_says_what_to_do(client, responder):
    incident = _declare(responder)
    client.force_login(responder)
    panel = _panel(client.get(reverse("incidents:detail", args=[incident.pk])).content.decode())
    assert "Add the affected services" in panel


def test_mark_and_unmark_are_on_the_incident_the_timeline_and_in_the_history(
    client, responder, checkout
):
    older = _change(checkout, hours_ago=3, version="v-three", actor=responder)
    newer = _change(checkout, hours_ago=1, version="v-one", actor=responder)
    incident = _declare(responder, checkout)
    url = reverse("incidents:trigger_change", args=[incident.pk])
    client.force_login(responder)

    response = client.post(url, {"change": older.pk})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.preceding_change == older

    swapped = client.post(url, {"change": newer.pk}, headers=HTMX)
    assert swapped.status_code == 200
    assert "Marked as the trigger" in swapped.content.decode()
    assert 'class="tag tag-trigger"' in _panel(swapped.content.decode())
    incident.refresh_from_db()
    assert incident.preceding_change == newer

    assert client.post(url, {"unmark": "on"}).status_code == 302
    incident.refresh_from_db()
    assert incident.preceding_change is None

    events = list(
        incident.events.filter(kind__in=[Kind.TRIGGER_MARKED, Kind.TRIGGER_UNMARKED]).order_by(
            "occurred_at", "pk"
        )
    )
    assert [(e.kind, e.data["change"], e.actor) for e in events] == [
        (Kind.TRIGGER_MARKED, older.pk, responder),
        (Kind.TRIGGER_MARKED, newer.pk, responder),
        (Kind.TRIGGER_UNMARKED, newer.pk, responder),
    ]
    assert events[1].data["replaced"] == older.pk

    entries = history.incident_history(incident=incident)
    trigger_rows = [
        (entry.user, entry.reason, change.old, change.new)
        for entry in entries
        for change in entry.changes
        if change.field == "preceding_change"
    ]
    assert trigger_rows == [
        ("rita", f"Change {older.pk} marked as the trigger", "—", str(older)),
        ("rita", f"Change {newer.pk} marked as the trigger", str(older), str(newer)),
        ("rita", f"Change {newer.pk} no longer the trigger", str(newer), "—"),
    ]
    history_page = client.get(reverse("incidents:history", args=[incident.pk])).content.decode()
    assert f"Change {older.pk} marked as the trigger" in history_page


def test_marking_again_changes_nothing(responder, checkout):
    change = _change(checkout, hours_ago=1, version="v-one", actor=responder)
    incident = _declare(responder, checkout)
    changes.incident_trigger_change_mark(incident=incident, change=change, actor=responder)
    changes.incident_trigger_change_mark(incident=incident, change=change, actor=responder)
    assert incident.events.filter(kind=Kind.TRIGGER_MARKED).count() == 1
    changes.incident_trigger_change_unmark(incident=incident, actor=responder)
    changes.incident_trigger_change_unmark(incident=incident, actor=responder)
    assert incident.events.filter(kind=Kind.TRIGGER_UNMARKED).count() == 1


def test_a_change_not_listed_beside_the_incident_is_refused_by_field(client, responder, checkout):
    other = _change(ServiceFactory(slug="search"), hours_ago=1, version="x", actor=responder)
    incident = _declare(responder, checkout)
    client.force_login(responder)
    url = reverse("incidents:trigger_change", args=[incident.pk])
    response = client.post(url, {"change": other.pk}, headers=HTMX)
    assert response.status_code == 400
    assert "Only a change listed beside this incident" in response.content.decode()
    for bad in ({"change": "abc"}, {"change": "999999"}, {}):
        assert client.post(url, bad, headers=HTMX).status_code == 400
    incident.refresh_from_db()
    assert incident.preceding_change is None


def test_private_incidents_refuse_outsiders(client, responder, checkout):
    change = _change(checkout, hours_ago=1, version="v", actor=responder)
    private = services.incident_declare(
        title="Leak", severity=severity("SEV1"), services=[checkout], private=True, actor=responder
    )
    outsider = UserFactory(username="olga", role="responder")
    client.force_login(outsider)
    url = reverse("incidents:trigger_change", args=[private.pk])
    assert client.post(url, {"change": change.pk}).status_code == 404
    private.refresh_from_db()
    assert private.preceding_change is None


def test_the_page_makes_a_fixed_number_of_queries(
    client, responder, checkout, django_assert_max_num_queries
):
    for hours in range(1, 6):
        _change(checkout, hours_ago=hours, version=f"v{hours}", actor=responder)
    incident = _declare(responder, checkout)
    client.force_login(responder)
    url = reverse("incidents:detail", args=[incident.pk])
    client.get(url)
    with django_assert_max_num_queries(60) as few:
        client.get(url)
    _change(checkout, hours_ago=0.5, version="v-more", actor=responder)
    _change(checkout, hours_ago=0.6, version="v-more-2", actor=responder)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_a_change_posted_before_an_alert_declared_incident_shows_and_its_mark_is_in_history(
    client, responder, checkout
):
    """Issue 14's "Done when": CI posts a deploy, Alertmanager declares, the page
    lists the deploy, a responder marks it, the history says so."""
    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION="Bearer " + api_key(responder, scopes=["intake"]))
    posted = ci.post(
        "/api/v1/changes/",
        {"service": "checkout", "version": "2026.03.04-1", "source": "github-actions"},
        format="json",
    )
    assert posted.status_code == 201
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"},
        "annotations": {"summary": "Checkout error rate 31%"},
        "startsAt": timezone.now().isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "f1",
    }
    notification = {
        "version": "4",
        "status": "firing",
        "receiver": "keel",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": [alert],
    }
    am = APIClient()
    am.credentials(HTTP_AUTHORIZATION="Token " + api_key(responder, scopes=["intake"]))
    assert (
        am.post("/api/v1/integrations/alertmanager/", notification, format="json").status_code < 300
    )
    incident = Incident.objects.get()

    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Deploy of checkout 2026.03.04-1" in _panel(page)
    change_id = posted.json()["id"]
    client.post(reverse("incidents:trigger_change", args=[incident.pk]), {"change": change_id})
    history = client.get(f"/api/v1/incidents/{incident.pk}/history/")
    assert history.status_code == 200
    assert any(
        entry["reason"] == f"Change {change_id} marked as the trigger" for entry in history.json()
    ), history.json()
