"""/settings/alert-sources/: admins list, create, edit rules, rotate keys, read the log."""

import pytest
from django.urls import reverse

from incidents.intake import sources
from incidents.models import AlertSource
from tests.incidents.alert_payloads import am_alert, am_notification
from tests.incidents.test_alert_intake import client_for, post

pytestmark = pytest.mark.django_db


def test_only_admins_see_the_pages(client, responder):
    client.force_login(responder)
    assert client.get(reverse("alert-sources")).status_code == 403
    source, _ = sources.alert_source_create(kind="grafana", name="g", actor=responder)
    assert client.get(reverse("alert-source-detail", args=[source.pk])).status_code == 403


def test_creating_a_source_shows_its_key_once_and_the_key_works(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("alert-sources"), {"kind": "alertmanager", "name": "prod-eu"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert key.startswith("keelsrc_") and key in response.content.decode()
    source = AlertSource.objects.get(name="prod-eu")
    assert source.key_hash != key and key not in str(source.__dict__)
    assert post(client_for(key), am_notification(am_alert("a1"))).json()["action"] == "declared"
    listed = client.get(reverse("alert-sources")).content.decode()
    assert "Alertmanager prod-eu" in listed and key not in listed and "declared" in listed


def test_a_duplicate_name_is_a_field_error(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("alert-sources"), {"kind": "webhook", "name": "ci"})
    again = client.post(reverse("alert-sources"), {"kind": "webhook", "name": "ci"})
    assert again.status_code == 400 and "name" in again.context["form"].errors


def test_rules_are_edited_and_a_bad_matcher_is_named(client, admin_user):
    client.force_login(admin_user)
    source, _ = sources.alert_source_create(kind="alertmanager", name="p", actor=admin_user)
    url = reverse("alert-source-detail", args=[source.pk])
    form = {
        "action": "rules",
        "ignore_matchers": "alertname=Watchdog",
        "attach_only_matchers": "severity=~info|none",
        "severity_label": "priority",
        "severity_map": "p1=SEV1\np2=sev2",
        "service_labels": "app",
        "service_map": "shop=checkout",
        "correlation_window_minutes": "30",
        "resolve_hold_seconds": "120",
    }
    assert client.post(url, form).status_code == 302
    source.refresh_from_db()
    assert source.severity_map == {"p1": "SEV1", "p2": "SEV2"}
    assert source.service_map == {"shop": "checkout"} and source.resolve_hold_seconds == 120
    bad = client.post(url, {**form, "ignore_matchers": "alertname~x"})
    assert bad.status_code == 400 and "ignore_matchers" in bad.context["form"].errors
    worse = client.post(url, {**form, "severity_map": "p1=SEV9"})
    assert worse.status_code == 400 and "severity_map" in worse.context["form"].errors


def test_rotating_shows_the_new_key_once_and_the_log_lists_payloads(client, admin_user):
    client.force_login(admin_user)
    source, old = sources.alert_source_create(kind="alertmanager", name="p", actor=admin_user)
    post(client_for(old), am_notification(am_alert("a1")))
    url = reverse("alert-source-detail", args=[source.pk])
    page = client.get(url).content.decode()
    assert "200 declared" in page and "HighErrorRate" in page
    rotated = client.post(url, {"action": "rotate"})
    new = rotated.context["key"]
    assert new != old and new in rotated.content.decode()
    assert post(client_for(old), am_notification(am_alert("a1"))).status_code == 401
