"""The incident page's forms for issue 11: outcomes, stage time corrections, note
edits and strikes. Plain POSTs redirect back; HTMX gets the live region; errors name
the field and never lose the input."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import TimelineEvent
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout errors",
        severity=severity("SEV3"),
        actor=responder,
        detected_at=(timezone.now() - timedelta(hours=1)).replace(microsecond=0),
    )


def _url(name, incident, *args):
    return reverse(f"incidents:{name}", args=[incident.pk, *args])


def test_resolved_is_preselected_only_when_it_can_close(client, responder, incident):
    client.force_login(responder)
    page = client.get(_url("close", incident), headers=HTMX).content.decode()
    assert 'value="resolved"' in page and "Not yet resolvable:" in page
    assert 'value="resolved" id="id_close-outcome_0" checked' not in page
    for stage in ("judge", "recover", "analyze", "share", "retrospect"):
        services.incident_move(incident=incident, to=stage, actor=responder)
    page = client.get(_url("close", incident), headers=HTMX).content.decode()
    assert 'name="close-outcome" value="resolved" id="id_close-outcome_0" checked' in page


def test_a_false_alarm_closes_from_the_page(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        _url("close", incident),
        {"close-outcome": "false_alarm", "close-note": "Probe flapped."},
        headers=HTMX,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Incident closed as false alarm." in page
    assert "outcome-false_alarm" in page and "Not measured: closed as false alarm" in page
    listing = client.get(reverse("incidents:list")).content.decode()
    assert "outcome-false_alarm" in listing


def test_an_outcome_without_its_reason_or_target_keeps_the_input(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        _url("close", incident),
        {"close-outcome": "duplicate", "close-note": "Same as the payments one."},
        headers=HTMX,
    )
    assert response.status_code == 400
    form = response.context["close_form"]
    assert form.errors["duplicate_of"] == ["Say which incident this duplicates (its number)."]
    assert "Same as the payments one." in response.content.decode()
    response = client.post(
        _url("close", incident),
        {"close-outcome": "duplicate", "close-duplicate_of": "#999999", "close-note": "x"},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert response.context["close_form"].errors["duplicate_of"] == [
        "There is no incident #999999."
    ]
    incident.refresh_from_db()
    assert incident.is_open


def test_a_skip_is_corrected_from_the_page(client, responder, incident):
    services.incident_move(incident=incident, to="analyze", actor=responder)
    client.force_login(responder)
    page = client.get(_url("stage_time_correct", incident), headers=HTMX).content.decode()
    # The first skipped stage is offered first; every skipped one is named so.
    assert '<option value="propagate" selected>Propagate (skipped)</option>' in page
    assert '<option value="recover">Recover (skipped)</option>' in page
    at = incident.detected_at + timedelta(minutes=15)
    response = client.post(
        _url("stage_time_correct", incident),
        {
            "correct-stage": "recover",
            "correct-at": at.strftime("%Y-%m-%dT%H:%M:%S"),
            "correct-reason": "Rollback done at :15.",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.recovered_at == at
    page = client.get(_url("detail", incident)).content.decode()
    assert "15m 00s" in page and "step-corrected" in page
    response = client.post(
        _url("stage_time_correct", incident),
        {"correct-stage": "recover", "correct-at": "2001-01-01T00:00", "correct-reason": "x"},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert "before detection" in response.context["correct_form"].errors["at"][0]


def test_notes_are_edited_and_struck_from_the_page(client, responder, viewer, incident):
    note = services.note_add(incident=incident, text="Web-3 restarted", actor=responder)
    client.force_login(viewer)
    assert client.post(_url("note_edit", incident, note.pk), {}).status_code == 403
    client.force_login(responder)
    response = client.post(
        _url("note_edit", incident, note.pk), {f"edit-{note.pk}-text": "  "}, headers=HTMX
    )
    assert response.status_code == 400
    assert response.context["note_edit_form"].errors["text"]
    response = client.post(
        _url("note_edit", incident, note.pk), {f"edit-{note.pk}-text": "Web-2 restarted"}
    )
    assert response.status_code == 302
    page = client.get(_url("detail", incident)).content.decode()
    assert "Web-2 restarted" in page and "Edited by" in page
    response = client.post(
        _url("note_strike", incident, note.pk), {f"strike-{note.pk}-reason": "Nothing restarted"}
    )
    assert response.status_code == 302
    page = client.get(_url("detail", incident)).content.decode()
    assert "<del>Web-2 restarted</del>" in page and "Nothing restarted" in page
    declared = incident.events.get(kind=TimelineEvent.Kind.DECLARED)
    response = client.post(
        _url("note_edit", incident, declared.pk), {f"edit-{declared.pk}-text": "x"}, headers=HTMX
    )
    assert response.status_code == 400
    history = client.get(_url("history", incident)).content.decode()
    assert "<del>Web-3 restarted</del> → <ins>Web-2 restarted</ins>" in history


def test_a_notes_edit_form_comes_on_demand(client, responder, incident):
    """The page carries an Edit link, not the form with the note's text; the link
    brings the form (HTMX: the form alone, to post into the live region; without
    JavaScript: a page whose plain POST redirects back to the incident)."""
    note = services.note_add(incident=incident, text="Web-3 restarted", actor=responder)
    client.force_login(responder)
    edit = _url("note_edit", incident, note.pk)
    page = client.get(_url("detail", incident)).content.decode()
    assert f'href="{edit}" hx-get="{edit}"' in page
    assert f'name="edit-{note.pk}-text"' not in page
    fragment = client.get(edit, headers=HTMX).content.decode()
    assert fragment.lstrip().startswith("<details") and " open>" in fragment
    assert f'hx-post="{edit}" hx-target="#incident-live"' in fragment
    assert ">Web-3 restarted</textarea>" in fragment and "csrfmiddlewaretoken" in fragment
    standalone = client.get(edit)
    assert standalone.status_code == 200
    form_page = standalone.content.decode()
    assert ">Web-3 restarted</textarea>" in form_page and "hx-post" not in form_page
    response = client.post(edit, {f"edit-{note.pk}-text": "Web-2 restarted"})
    assert response.status_code == 302 and response["Location"] == _url("detail", incident)
    declared = incident.events.get(kind=TimelineEvent.Kind.DECLARED)
    assert client.get(_url("note_edit", incident, declared.pk)).status_code == 404
    services.note_strike(event=note, reason="", actor=responder)
    assert client.get(edit, headers=HTMX).status_code == 404


def test_a_notes_strike_form_comes_on_demand(client, responder, incident):
    """The page carries the Strike through disclosure, not its form; opening it fetches
    the form (HTMX), its link opens a page with it (without JavaScript)."""
    note = services.note_add(incident=incident, text="Web-3 restarted", actor=responder)
    client.force_login(responder)
    strike = _url("note_strike", incident, note.pk)
    page = client.get(_url("detail", incident)).content.decode()
    assert f'hx-get="{strike}"' in page and f'<a href="{strike}">' in page
    assert f'name="strike-{note.pk}-reason"' not in page
    fragment = client.get(strike, headers=HTMX).content.decode()
    assert fragment.lstrip().startswith("<form") and f'name="strike-{note.pk}-reason"' in fragment
    assert f'hx-post="{strike}" hx-target="#incident-live"' in fragment
    assert "csrfmiddlewaretoken" in fragment
    form_page = client.get(strike).content.decode()
    assert f'name="strike-{note.pk}-reason"' in form_page and "hx-post" not in form_page
    response = client.post(strike, {f"strike-{note.pk}-reason": "Nothing restarted"})
    assert response.status_code == 302 and response["Location"] == _url("detail", incident)
    assert client.get(strike, headers=HTMX).status_code == 404  # struck already


def test_a_failed_edit_shows_its_form_open_in_place(client, responder, incident):
    note = services.note_add(incident=incident, text="Web-3 restarted", actor=responder)
    client.force_login(responder)
    response = client.post(
        _url("note_edit", incident, note.pk), {f"edit-{note.pk}-text": "  "}, headers=HTMX
    )
    assert response.status_code == 400
    region = response.content.decode()
    assert f'name="edit-{note.pk}-text"' in region and "has-error" in region
    assert '<details class="disclosure disclosure-inline" open>' in region
