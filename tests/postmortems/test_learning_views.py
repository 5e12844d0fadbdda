"""The pages: similar incidents on the incident page and while declaring, the quality
checklist on the postmortem page and after submit, and an action item's evidence."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from postmortems import services
from postmortems.models import ActionItemEvidence
from tests.factories.incidents import IncidentFactory, ServiceFactory, UserFactory
from tests.factories.postmortems import recovered_incident, started_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_incident_page_loads_similar_past_incidents_after_itself(rita):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    earlier = recovered_incident(actor=rita, title="Checkout payment timeouts")
    earlier.services.set([checkout])
    services.postmortem_start(incident=earlier, actor=rita)
    now = recovered_incident(actor=rita, title="Checkout payments timing out")
    now.services.set([checkout])
    client = _client(rita)
    page = client.get(f"/incidents/{now.pk}/").content.decode()
    url = f"/postmortems/similar/incident/{now.pk}/"
    assert f'hx-get="{url}" hx-trigger="load"' in page
    panel = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="similar-incidents"' in panel and "<html" not in panel
    assert f'href="/incidents/{earlier.pk}/"' in panel
    assert "Chosen to fix it:</strong> Roll back — The previous build was known good." in panel
    assert "no action items" in panel
    # Without JavaScript the link opens it as a page.
    assert "<html" in client.get(url).content.decode()


def test_the_similar_panel_makes_a_fixed_number_of_queries(rita, django_assert_max_num_queries):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    for number in range(12):
        past = recovered_incident(actor=rita, title=f"Checkout payment timeouts {number}")
        past.services.set([checkout])
        services.postmortem_start(incident=past, actor=rita)
    now = IncidentFactory(title="Checkout payments timing out")
    now.services.set([checkout])
    client = _client(rita)
    # Session and user (2), the incident (1), its signature (1 + 3 prefetches), the
    # candidates (1 + 6 prefetches), and the page's own (groups for the menu).
    with django_assert_max_num_queries(16):
        answer = client.get(f"/postmortems/similar/incident/{now.pk}/", headers={"HX-Request": "1"})
    assert answer.content.decode().count('class="similar-item"') == 5


def test_a_private_incident_s_panel_is_a_404_to_others(rita):
    other = UserFactory(username="sec", role="responder")
    hidden = IncidentFactory(private=True, created_by=other, commander=other)
    assert _client(rita).get(f"/postmortems/similar/incident/{hidden.pk}/").status_code == 404


def test_the_declare_form_asks_for_suggestions_as_it_is_typed(rita):
    page = _client(rita).get("/incidents/new/").content.decode()
    assert 'hx-get="/postmortems/similar/"' in page
    assert "input changed delay:500ms from:#id_title" in page


def test_suggestions_show_matches_and_hide_private_ones(rita):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    shown = IncidentFactory(title="Checkout payment timeouts")
    shown.services.set([checkout])
    other = UserFactory(username="sec", role="responder")
    IncidentFactory(
        title="Checkout payment timeouts (security)",
        private=True,
        created_by=other,
        commander=other,
    )
    answer = _client(rita).get(
        "/postmortems/similar/", {"title": "checkout payment timeout", "services": [checkout.pk]}
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Checkout payment timeouts" in html and "(security)" not in html
    assert _client(rita).get("/postmortems/similar/", {"title": ""}).content.strip() == b""


def test_suggestions_refuse_an_oversized_title_naming_it(rita):
    answer = _client(rita).get("/postmortems/similar/", {"title": "x" * 201})
    assert answer.status_code == 400
    assert "Title: Ensure this value has at most 200 characters" in answer.content.decode()


def test_the_postmortem_page_shows_the_quality_checklist_and_submit_reports_it(rita):
    pm = started_postmortem(actor=rita)
    client = _client(rita)
    page = client.get(f"/postmortems/{pm.pk}/").content.decode()
    assert 'id="quality-check"' in page
    assert 'data-check="impact"' in page and "Impact quantified" in page
    bob = UserFactory(username="bob", role="responder")
    answer = client.post(
        f"/postmortems/{pm.pk}/submit/", {"reviewers": [bob.username]}, follow=True
    )
    html = answer.content.decode()
    assert "Submitted for review." in html
    assert "Quality check:" in html and "impact quantified" in html


def _series_csv(days: int) -> str:
    end = datetime(2026, 3, 20, tzinfo=UTC)
    return "\n".join(
        f"{(end - timedelta(hours=h)).isoformat()},0.2" for h in range(days * 24, -1, -1)
    )


def test_an_action_item_evidence_page_links_a_pasted_series(rita):
    pm = started_postmortem(actor=rita)
    item = services.action_item_create(
        postmortem=pm,
        actor=rita,
        data={"title": "Breaker", "tracker_url": "https://github.com/acme/shop/issues/12"},
    )
    client = _client(rita)
    url = f"/postmortems/action-items/{item.pk}/evidence/"
    page = client.get(url).content.decode()
    assert "No metric linked yet." in page and "GitHub acme/shop#12" in page
    form = {"metric": "p99 (s)", "threshold": "0.5", "stay": "below", "days": "7"}
    bad = client.post(url, {**form, "series": "2026-03-01T00:00:00Z,abc"})
    assert bad.status_code == 400 and "expected a number" in bad.content.decode()
    answer = client.post(url, {**form, "series": _series_csv(8)}, follow=True)
    assert "Evidence linked." in answer.content.decode()
    assert ActionItemEvidence.objects.get(action_item=item).result == "verified"
    listing = client.get("/postmortems/action-items/").content.decode()
    assert "GitHub acme/shop#12" in listing and "✓ Verified" in listing


def test_a_viewer_sees_the_evidence_but_cannot_link(rita):
    pm = started_postmortem(actor=rita)
    item = services.action_item_create(postmortem=pm, actor=rita, data={"title": "Breaker"})
    viewer = _client(UserFactory(username="vic", role="viewer"))
    url = f"/postmortems/action-items/{item.pk}/evidence/"
    assert 'id="evidence-form"' not in viewer.get(url).content.decode()
    answer = viewer.post(url, {"metric": "p99", "threshold": "1", "series": _series_csv(8)})
    assert answer.status_code == 403
