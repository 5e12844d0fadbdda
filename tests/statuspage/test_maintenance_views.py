"""The maintenance pages: who may read and write, each form through its service,
errors next to their field (never a 500), and a double submit that writes once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from statuspage import maintenance as services
from statuspage.models import ScheduledMaintenance

pytestmark = pytest.mark.django_db


def local(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def schedule_data(components, overrides=None) -> dict:
    start = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    data = {
        "name": "Database upgrade",
        "body": "Writes pause for up to a minute.",
        "components": [components["api"].public_id, components["email"].public_id],
        "scheduled_for": local(start),
        "scheduled_until": local(start + timedelta(hours=1)),
        "component_status": "under_maintenance",
        "notify_subscribers": "on",
        "remind_minutes_before": "60",
        "notify_on_start": "on",
        "notify_on_complete": "on",
        "auto_start": "on",
        "auto_complete": "on",
        "submission_key": "key-1",
    }
    data.update(overrides or {})
    return data


@pytest.fixture
def maintenance(components, responder):
    now = timezone.now()
    return services.maintenance_schedule(
        name="Cache migration",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"]],
        body="Caches are rebuilt.",
        actor=responder,
    )


def test_the_list_shows_each_state_and_the_nav_links_it(client, viewer, maintenance):
    client.force_login(viewer)
    page = client.get(reverse("maintenance:list")).content.decode()
    assert "Cache migration" in page and "Upcoming" in page and "Cancelled" in page
    assert 'href="/maintenance/" aria-current="page">Maintenance<' in page
    assert "Schedule maintenance" not in page  # viewers read only


def test_a_viewer_reads_the_detail_without_actions_and_cannot_write(client, viewer, maintenance):
    client.force_login(viewer)
    page = client.get(reverse("maintenance:detail", args=[maintenance.pk])).content.decode()
    assert "Caches are rebuilt." in page and "Start now" not in page
    for name in ("move", "cancel", "update_post"):
        response = client.post(reverse(f"maintenance:{name}", args=[maintenance.pk]), {})
        assert response.status_code == 403
    assert client.get(reverse("maintenance:schedule")).status_code == 403
    assert maintenance.updates.count() == 1


def test_schedule_from_the_form_picks_components_by_name(client, responder, components):
    client.force_login(responder)
    form = client.get(reverse("maintenance:schedule")).content.decode()
    assert "Platform" in form and "API — now operational" in form  # grouped, by name
    assert "Starts (UTC)" in form
    response = client.post(reverse("maintenance:schedule"), schedule_data(components))
    maintenance = ScheduledMaintenance.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("maintenance:detail", args=[maintenance.pk])
    assert {c.slug for c in maintenance.components.all()} == {"api", "email"}
    assert maintenance.remind_minutes_before == 60
    assert maintenance.updates.get().body == "Writes pause for up to a minute."
    assert maintenance.history.first().history_user == responder


def test_a_double_submit_schedules_once(client, responder, components):
    client.force_login(responder)
    data = schedule_data(components)
    first = client.post(reverse("maintenance:schedule"), data)
    second = client.post(reverse("maintenance:schedule"), data, follow=True)
    assert ScheduledMaintenance.objects.count() == 1
    assert second.redirect_chain[0][0] == first["Location"]
    assert "it counted once" in second.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"body": "x" * 4001}, "body", "at most 4000 characters"),
        ({"scheduled_until": "2020-01-01T00:00"}, "scheduled_until", "must end after it starts"),
        ({"scheduled_for": "not a time"}, "scheduled_for", "Enter a valid date/time"),
        ({"components": ["nope"]}, "components", "Select a valid choice"),
    ],
)
def test_bad_input_is_shown_next_to_its_field(
    client, responder, components, overrides, field, words
):
    client.force_login(responder)
    response = client.post(reverse("maintenance:schedule"), schedule_data(components, overrides))
    assert response.status_code == 400
    assert words in response.content.decode()
    assert field in response.context["form"].errors
    assert not ScheduledMaintenance.objects.exists()


def test_start_complete_from_the_detail_page(client, responder, maintenance, components):
    client.force_login(responder)
    url = reverse("maintenance:move", args=[maintenance.pk])
    page = client.get(reverse("maintenance:detail", args=[maintenance.pk])).content.decode()
    assert "Start now" in page and "Complete" not in page
    start = {"move": "in_progress", "in_progress-to": "in_progress", "in_progress-notify": "on"}
    assert client.post(url, {**start, "submission_key": "s1"}).status_code == 302
    components["api"].refresh_from_db()
    assert components["api"].status == "under_maintenance"
    # The same click again (the key) replays; a stale tab (a new key) is told why not.
    assert client.post(url, {**start, "submission_key": "s1"}).status_code == 302
    stale = client.post(url, {**start, "submission_key": "s2"})
    assert stale.status_code == 409 and "already in progress" in stale.content.decode().lower()
    done = {"move": "completed", "completed-to": "completed", "completed-body": "All done."}
    assert client.post(url, done).status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.status == "completed"
    statuses = [u.status for u in maintenance.updates.all()]
    assert statuses == ["completed", "in_progress", "scheduled"]


def test_complete_before_start_is_refused_on_the_page(client, responder, maintenance):
    client.force_login(responder)
    response = client.post(
        reverse("maintenance:move", args=[maintenance.pk]),
        {"move": "completed", "completed-to": "completed"},
    )
    assert response.status_code == 409
    assert "has not started yet" in response.content.decode()


def test_cancel_needs_a_reason(client, responder, maintenance):
    client.force_login(responder)
    url = reverse("maintenance:cancel", args=[maintenance.pk])
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    cancelled = client.post(url, {"reason": "Postponed by the vendor.", "notify": "on"})
    assert cancelled.status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.status == "cancelled"
    assert maintenance.updates.first().body == "Postponed by the vendor."
    page = client.get(reverse("maintenance:detail", args=[maintenance.pk])).content.decode()
    assert "Cancel maintenance" not in page  # over: no more actions


def test_post_an_update_once(client, responder, maintenance):
    client.force_login(responder)
    url = reverse("maintenance:update_post", args=[maintenance.pk])
    data = {"body": "Still on for tonight.", "notify": "on", "submission_key": "u1"}
    client.post(url, data)
    client.post(url, data)
    assert maintenance.updates.filter(body="Still on for tonight.").count() == 1
    other = client.post(url, {**data, "body": "Something else"})
    assert other.status_code == 422 and "already sent with other values" in other.content.decode()


def test_edit_the_window_reschedules_and_is_a_noop_when_unchanged(
    client, responder, maintenance, components
):
    client.force_login(responder)
    url = reverse("maintenance:edit", args=[maintenance.pk])
    form = client.get(url).context["form"]
    data = {
        name: value
        for name, value in {
            **{f: form[f].value() for f in form.fields},
        }.items()
        if value not in (None, False)
    }
    data = {k: (local(v) if hasattr(v, "strftime") else v) for k, v in data.items()}
    for boolean in ("notify_on_start", "notify_on_complete", "auto_start", "auto_complete"):
        data[boolean] = "on"
    unchanged = client.post(url, {**data, "submission_key": "e0"})
    assert unchanged.status_code == 302
    assert maintenance.updates.count() == 1
    later = maintenance.scheduled_for + timedelta(days=1)
    data.update(
        scheduled_for=local(later),
        scheduled_until=local(later + timedelta(hours=1)),
        note="Moved at the vendor's request.",
        notify="on",
        submission_key="e1",
    )
    assert client.post(url, data).status_code == 302
    latest = maintenance.updates.first()
    assert latest.body.startswith("Rescheduled: now ") and "vendor's request" in latest.body


def test_an_unknown_maintenance_is_404(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("maintenance:detail", args=[999999])).status_code == 404
