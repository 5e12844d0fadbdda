import pytest
from django.test import Client

from postmortems import services
from postmortems.models import ActionItem, Postmortem, Section
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import recovered_incident, started_postmortem

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role="responder")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_incident_page_offers_start_then_open(rita):
    incident = recovered_incident(actor=rita)
    client = _client(rita)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="start-postmortem"' in page
    response = client.post(f"/postmortems/start/{incident.pk}/")
    pm = Postmortem.objects.get(incident=incident)
    assert response.status_code == 302 and response["Location"] == f"/postmortems/{pm.pk}/"
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="open-postmortem"' in page and 'id="start-postmortem"' not in page
    # Starting again just opens the existing one.
    assert client.post(f"/postmortems/start/{incident.pk}/")["Location"] == f"/postmortems/{pm.pk}/"


def test_editor_renders_every_section_and_nav(rita):
    pm = started_postmortem(actor=rita)
    page = _client(rita).get(f"/postmortems/{pm.pk}/").content.decode()
    for section in pm.sections.all():
        assert f'id="section-{section.key}"' in page
    assert 'hx-trigger="change delay:400ms, submit"' in page
    assert ">Postmortems</a>" in page
    assert 'id="submit-form"' in page


def test_autosave_returns_status_and_preview_and_version_header(rita):
    pm = started_postmortem(actor=rita)
    client = _client(rita)
    section = Section.objects.get(postmortem=pm, key="summary")
    response = client.post(
        f"/postmortems/{pm.pk}/sections/summary/",
        {
            "version": 1,
            "structure": "-",
            "text": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response["X-Postmortem-Version"] == "2"
    body = response.content.decode()
    assert "pm-saved" in body and 'hx-swap-oob="true"' in body
    assert "<strong>Bold</strong>" in body
    assert "<script>" not in body and 'href="javascript' not in body
    section.refresh_from_db()
    assert section.content["text"].startswith("**Bold**")


def test_stale_autosave_is_409_and_tells_who_saved(rita, bob):
    pm = started_postmortem(actor=rita)
    services.section_save(
        postmortem=pm, key="summary", content={"text": "Rita's"}, expected_version=1, actor=rita
    )
    response = _client(bob).post(
        f"/postmortems/{pm.pk}/sections/summary/",
        {"version": 1, "structure": "-", "text": "Bob's"},
        **HTMX,
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "data-conflict" in body and "rita" in body
    assert 'name="version" value="1"' in body  # still the version Bob edited: no overwrite
    assert response["HX-Retarget"] == "#section-summary"
    assert "Bob&#x27;s" in body or "Bob's" in body  # what Bob typed stays on screen
    assert Section.objects.get(postmortem=pm, key="summary").content["text"] == "Rita's"


def test_one_editor_saving_two_sections_in_a_row_is_not_a_conflict(rita):
    pm = started_postmortem(actor=rita)
    client = _client(rita)
    first = client.post(
        f"/postmortems/{pm.pk}/sections/summary/",
        {"version": 1, "structure": "-", "text": "a"},
        **HTMX,
    )
    second = client.post(
        f"/postmortems/{pm.pk}/sections/impact/",
        {"version": 1, "structure": "-", "text": "b"},
        **HTMX,
    )
    assert first.status_code == 200 and second.status_code == 200
    # The same section from a stale tab is a conflict, even for the same user.
    third = client.post(
        f"/postmortems/{pm.pk}/sections/summary/",
        {"version": 1, "structure": "-", "text": "c"},
        **HTMX,
    )
    assert third.status_code == 409


def test_metrics_csv_paste_renders_chart_with_threshold_and_window(rita):
    pm = started_postmortem(actor=rita)
    client = _client(rita)
    start = pm.incident.started_at
    csv = "time,value\n" + "\n".join(
        f"{(start.replace(microsecond=0)).isoformat()[:16]}:{i:02d}Z,{i * 2}" for i in range(30)
    )
    response = client.post(
        f"/postmortems/{pm.pk}/sections/metrics/",
        {
            "version": 1,
            "structure": "#0",
            "rows": 1,
            "r-0-name": "5xx",
            "r-0-unit": "%",
            "r-0-threshold": "20",
            "r-0-series": csv,
        },
        **HTMX,
    )
    assert response.status_code == 200, response.content
    assert response["HX-Retarget"] == "#section-metrics"  # the rows changed: whole section
    body = response.content.decode()
    assert 'class="metric-chart"' in body and 'data-points="30"' in body
    assert 'class="chart-threshold"' in body and 'class="chart-window"' in body
    # An autosave that does not paste again keeps the series.
    response = client.post(
        f"/postmortems/{pm.pk}/sections/metrics/",
        {
            "version": 2,
            "structure": "",
            "rows": 2,
            "r-0-name": "5xx",
            "r-0-unit": "%",
            "r-0-threshold": "25",
        },
        **HTMX,
    )
    rows = Section.objects.get(postmortem=pm, key="metrics").content["rows"]
    assert len(rows[0]["series"]) == 30 and rows[0]["threshold"] == 25


def test_remediation_radio_and_action_items_rows(rita, bob):
    pm = started_postmortem(actor=rita)
    options = list(pm.remediation_options.all())
    client = _client(rita)
    data = {"version": 1, "structure": "", "rows": 3, "chosen": "1"}
    for i, option in enumerate(options):
        data |= {f"r-{i}-id": option.pk, f"r-{i}-title": option.title, f"r-{i}-reason": ""}
    response = client.post(f"/postmortems/{pm.pk}/sections/remediations/", data, **HTMX)
    assert response.status_code == 400 and "why" in response.content.decode()
    assert 'name="chosen" value="1" aria-label="Chosen" checked' in response.content.decode()
    data["r-1-reason"] = "Safer."
    response = client.post(f"/postmortems/{pm.pk}/sections/remediations/", data, **HTMX)
    assert response.status_code == 200
    chosen = pm.remediation_options.get(chosen=True)
    assert chosen.title == "Fix forward" and chosen.reason == "Safer."
    response = client.post(
        f"/postmortems/{pm.pk}/sections/action_items/",
        {
            "version": 2,
            "structure": "",
            "rows": 1,
            "r-0-title": "Add alert",
            "r-0-owner": "bob",
            "r-0-due_date": "2030-01-01",
            "r-0-term": "long",
            "r-0-kind": "detect",
            "r-0-priority": "P2",
            "r-0-status": "open",
        },
        **HTMX,
    )
    assert response.status_code == 200
    item = ActionItem.objects.get()
    assert item.owner == bob and item.term == "long"
    assert f'value="{item.pk}"' in response.content.decode()  # new id lands in the form


def test_workflow_buttons_publish_moves_incident_to_share(rita, bob):
    pm = started_postmortem(actor=rita)
    rita_client, bob_client = _client(rita), _client(bob)
    rita_client.post(f"/postmortems/{pm.pk}/submit/", {"reviewers": ["bob"]})
    pm.refresh_from_db()
    assert pm.status == "in_review"
    page = bob_client.get(f"/postmortems/{pm.pk}/").content.decode()
    assert 'id="review-form"' in page
    bob_client.post(f"/postmortems/{pm.pk}/review/", {"verdict": "approve", "comment": "ok"})
    response = rita_client.post(f"/postmortems/{pm.pk}/publish/", {"public_summary": ""})
    assert response.status_code == 302
    pm.refresh_from_db()
    pm.incident.refresh_from_db()
    assert pm.status == "published" and pm.incident.stage == "share"
    page = rita_client.get(f"/postmortems/{pm.pk}/").content.decode()
    assert '<form class="pm-form' not in page  # published: read-only
    assert 'id="retro-form"' in page


def test_print_export_history_list_action_items_pages(rita):
    pm = started_postmortem(actor=rita)
    services.action_item_create(
        postmortem=pm,
        actor=rita,
        data={"title": "Alert", "owner": "rita", "due_date": "2020-01-01"},
    )
    client = _client(rita)
    printed = client.get(f"/postmortems/{pm.pk}/print/").content.decode()
    assert "@page" not in printed and "print.css" in printed and "Roll back" in printed
    export = client.get(f"/postmortems/{pm.pk}/export.md")
    assert export["Content-Disposition"].startswith("attachment")
    assert "## Action items" in export.content.decode()
    history = client.get(f"/postmortems/{pm.pk}/history/").content.decode()
    assert "rita" in history and "pre-filled" in history
    listing = client.get("/postmortems/", {"q": "Checkout"}).content.decode()
    assert pm.title in listing
    items = client.get("/postmortems/action-items/", {"overdue": "on"}).content.decode()
    assert "Alert" in items and "Overdue" in items and 'id="completion-table"' in items


def test_viewer_sees_a_read_only_document(rita, viewer):
    pm = started_postmortem(actor=rita)
    page = _client(viewer).get(f"/postmortems/{pm.pk}/").content.decode()
    assert "pm-form" not in page and "Roll back" in page
    response = _client(viewer).post(
        f"/postmortems/{pm.pk}/sections/summary/", {"version": 1, "text": "x"}
    )
    assert response.status_code == 403


def test_admin_edits_a_template_into_a_new_version(admin_user):
    client = _client(admin_user)
    page = client.get("/postmortems/templates/").content.decode()
    assert "Default postmortem" in page
    from tests.factories.postmortems import default_template

    template = default_template()
    response = client.post(
        f"/postmortems/templates/{template.pk}/edit/",
        {
            "name": "Default postmortem",
            "sections": "summary | markdown | Summary\nnotes | checklist | Notes",
        },
    )
    assert response.status_code == 302
    assert default_template().version == 2
    assert [s.key for s in default_template().sections.all()] == ["summary", "notes"]


def test_admin_pages_render(admin_user, rita):
    pm = started_postmortem(actor=rita)
    client = _client(admin_user)
    for url in [
        "/admin/postmortems/postmortem/",
        f"/admin/postmortems/postmortem/{pm.pk}/change/",
        f"/admin/postmortems/postmortemtemplate/{pm.template_id}/change/",
        "/admin/postmortems/actionitem/",
        "/admin/postmortems/remediationoption/",
    ]:
        assert client.get(url).status_code == 200, url


def test_live_markdown_preview_is_sanitised(rita):
    response = _client(rita).post(
        "/postmortems/preview/",
        {"preview_field": "went_badly", "went_badly": "*slow* <img src=x onerror=alert(1)>"},
    )
    body = response.content.decode()
    assert "<em>slow</em>" in body and "<img" not in body


def test_admin_creates_a_team_template_used_for_that_teams_incidents(admin_user, rita):
    from incidents import services as incident_services
    from tests.factories.incidents import ServiceFactory, TeamFactory, severity

    team = TeamFactory(name="Payments", slug="payments")
    service = ServiceFactory(name="Pay API", slug="pay-api", owner_team=team)
    response = _client(admin_user).post(
        "/postmortems/templates/new/",
        {"name": "Payments retro", "team": team.pk,
         "sections": "what | markdown | What happened\nfixes | action_items | Fixes"},
    )  # fmt: skip
    assert response.status_code == 302
    incident = incident_services.incident_declare(
        title="Pay down", severity=severity("SEV3"), actor=rita, services=[service]
    )
    client = _client(rita)
    client.post(f"/postmortems/start/{incident.pk}/")
    pm = Postmortem.objects.get(incident=incident)
    assert pm.template.name == "Payments retro" and pm.template.team == team
    assert [s.key for s in pm.sections.all()] == ["what", "fixes"]


def test_metrics_series_from_an_uploaded_file_csv_or_json(rita):
    from django.core.files.uploadedfile import SimpleUploadedFile

    pm = started_postmortem(actor=rita)
    client = _client(rita)
    url = f"/postmortems/{pm.pk}/sections/metrics/"
    csv = b"time,value\n2026-03-01T10:00:00Z,1\n2026-03-01T10:01:00Z,5\n2026-03-01T10:02:00Z,2\n"
    response = client.post(
        url,
        {"version": 1, "structure": "#0", "rows": 1, "r-0-name": "p99", "r-0-threshold": "4",
         "r-0-series_file": SimpleUploadedFile("p99.csv", csv, content_type="text/csv")},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    assert 'data-points="3"' in response.content.decode()
    json_points = b'[["2026-03-01T10:00:00Z", 3], {"t": "2026-03-01T10:05:00Z", "v": 4}]'
    response = client.post(
        url,
        {"version": 2, "structure": "", "rows": 1, "r-0-name": "p99",
         "r-0-series_file": SimpleUploadedFile("p99.json", json_points)},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    rows = Section.objects.get(postmortem=pm, key="metrics").content["rows"]
    assert rows[0]["series"] == [["2026-03-01T10:00:00Z", 3], ["2026-03-01T10:05:00Z", 4]]
    bad = client.post(
        url,
        {"version": 3, "structure": "", "rows": 1, "r-0-name": "p99",
         "r-0-series_file": SimpleUploadedFile("x.csv", b"not,a,series\n")},
        **HTMX,
    )  # fmt: skip
    assert bad.status_code == 400 and "series" in bad.content.decode()
