import pytest

from incidents import services as incident_services
from incidents.lifecycle import Stage
from postmortems import services
from postmortems.models import ActionItem, Postmortem, SectionKind
from tests.factories.incidents import UserFactory, severity
from tests.factories.postmortems import recovered_incident, started_postmortem

pytestmark = pytest.mark.django_db

URL = "/api/v1/postmortems/"

SAMPLES = {
    "markdown": {"text": "**Bold** claim with a [link](https://example.test)."},
    "timeline": {
        "rows": [
            {"at": "2026-03-01T10:00:00Z", "text": "Alert fired", "kind": "alert"},
            {"at": "2026-03-01T10:05:00Z", "text": "Rolled back", "kind": ""},
        ]
    },
    "metrics": {
        "rows": [
            {
                "name": "5xx rate",
                "unit": "%",
                "before": 0.1,
                "during": 12.5,
                "after": 0.2,
                "threshold": 1,
                "crossed_at": "2026-03-01T10:01:00Z",
                "series": [["2026-03-01T09:50:00Z", 0.1], ["2026-03-01T10:02:00Z", 12.5]],
            }
        ]
    },
    "thresholds": {
        "rows": [{"metric": "5xx rate", "unit": "%", "warning": 0.5, "critical": 1, "note": "ok"}]
    },
    "log_window": {
        "start": "2026-03-01T09:58:00Z",
        "end": "2026-03-01T10:20:00Z",
        "link": "https://logs.example.test/q?id=1",
        "excerpt": "ERROR pool exhausted\nERROR timeout",
    },
    "failure_points": {
        "rows": [
            {
                "component": "checkout-api",
                "connection": "payments-db",
                "description": "Connection pool exhausted",
                "observed_at": "2026-03-01T10:00:30Z",
            }
        ]
    },
    "middleware": {
        "rows": [
            {"name": "Redis", "type": "middleware", "trend": "spiky", "note": "evictions"},
            {"name": "Billing", "type": "application", "trend": "flat", "note": ""},
        ]
    },
    "remediations": {
        "rows": [
            {
                "title": "Roll back",
                "description": "d",
                "pros": "fast",
                "cons": "loses fix",
                "chosen": True,
                "reason": "Known good.",
            },
            {
                "title": "Fix forward",
                "description": "",
                "pros": "",
                "cons": "slow",
                "chosen": False,
                "reason": "",
            },
        ]
    },
    "root_cause": {
        "text": "The pool was too small.",
        "contributing_factors": ["No load test", "Alert too late"],
        "failure_patterns": ["capacity", "change"],
        "five_whys": ["Why 1", "Why 2"],
    },
    "action_items": {
        "rows": [
            {
                "title": "Alert on pool",
                "term": "short",
                "kind": "detect",
                "owner": "bob",
                "due_date": "2030-01-01",
                "priority": "P1",
                "status": "open",
                "tracker_url": "https://tracker.example.test/1",
            },
            {
                "title": "Load tests",
                "term": "long",
                "kind": "prevent",
                "owner": None,
                "due_date": None,
                "priority": "P3",
                "status": "in_progress",
                "tracker_url": "",
            },
        ]
    },
    "checklist": {
        "rows": [{"text": "Retro held", "done": True}, {"text": "Shared", "done": False}]
    },
    "recurrence": {
        "rows": [
            {
                "incident": 12,
                "title": "Checkout payment timeouts",
                "alike": "services: checkout",
                "remediation": "Roll back — Known good.",
                "action_items": "1 of 2 action items done.",
                "why_again": "The breaker was never built.",
            }
        ]
    },
    "went_well": {
        "went_well": "Fast rollback",
        "went_badly": "Late alert",
        "got_lucky": "Quiet hour",
    },
}


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role="responder")


def test_every_kind_is_covered_by_the_samples():
    assert set(SAMPLES) == set(SectionKind.values)


def test_every_section_kind_round_trips(as_user, rita, bob, admin_user):
    template = services.template_create(
        name="All kinds",
        sections=[{"key": kind, "title": kind, "kind": kind} for kind in SAMPLES],
        actor=admin_user,
    )
    incident = recovered_incident(actor=rita)
    client = as_user(rita)
    created = client.post(URL, {"incident": incident.pk, "template": template.pk}, format="json")
    assert created.status_code == 201, created.data
    doc = created.data
    response = client.patch(
        f"{URL}{doc['id']}/", {"version": doc["version"], "sections": SAMPLES}, format="json"
    )
    assert response.status_code == 200, response.data
    fetched = client.get(f"{URL}{doc['id']}/").data
    assert fetched["version"] == doc["version"] + 1
    for section in fetched["sections"]:
        content = section["content"]
        if section["kind"] in ("remediations", "action_items"):
            content = {
                "rows": [{k: v for k, v in row.items() if k != "id"} for row in content["rows"]]
            }
        assert content == SAMPLES[section["kind"]], section["kind"]
    # Sending the document back unchanged (ids included) keeps it as it is.
    again = client.patch(
        f"{URL}{doc['id']}/",
        {
            "version": fetched["version"],
            "sections": {s["key"]: s["content"] for s in fetched["sections"]},
        },
        format="json",
    )
    assert again.status_code == 200, again.data
    assert [s["content"] for s in again.data["sections"]] == [
        s["content"] for s in fetched["sections"]
    ]


def test_create_prefills_and_honours_idempotency_key(as_user, rita):
    incident = recovered_incident(actor=rita)
    client = as_user(rita)
    first = client.post(URL, {"incident": incident.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201
    keys = [s["key"] for s in first.data["sections"]]
    assert keys[:4] == ["summary", "impact", "timeline", "detection"]
    timeline = first.data["sections"][2]
    assert (
        timeline["content"]["rows"] and timeline["generated"]["rows"] == timeline["content"]["rows"]
    )
    replay = client.post(URL, {"incident": incident.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.data["id"] == first.data["id"]
    assert Postmortem.objects.count() == 1
    again = client.post(URL, {"incident": incident.pk}, format="json")
    assert again.status_code == 409 and again.data["postmortem"] == first.data["id"]


def test_stale_patch_is_409_naming_who_saved(as_user, rita, bob):
    pm = started_postmortem(actor=rita)
    url = f"{URL}{pm.pk}/"
    ok = as_user(rita).patch(
        url, {"version": 1, "sections": {"summary": {"text": "R"}}}, format="json"
    )
    assert ok.status_code == 200
    stale = as_user(bob).patch(
        url, {"version": 1, "sections": {"summary": {"text": "B"}}}, format="json"
    )
    assert stale.status_code == 409
    assert stale.data["code"] == "version_conflict"
    assert stale.data["last_saved_by"] == "rita" and stale.data["current_version"] == 2
    assert "rita" in stale.data["detail"]


def test_invalid_content_is_400_naming_the_path(as_user, rita):
    pm = started_postmortem(actor=rita)
    client = as_user(rita)
    url = f"{URL}{pm.pk}/"
    too_many = {"rows": [{"name": f"m{i}"} for i in range(51)]}
    response = client.patch(url, {"version": 1, "sections": {"metrics": too_many}}, format="json")
    assert response.status_code == 400 and "at most 50" in response.data["detail"]
    big = {"excerpt": "x" * 20_001}
    response = client.patch(url, {"version": 1, "sections": {"log_window": big}}, format="json")
    assert response.status_code == 400 and "log_window.excerpt" in response.data["errors"]
    points = [[f"2026-03-01T10:{i // 60:02d}:{i % 60:02d}Z", i] for i in range(5_001)]
    series = {"rows": [{"name": "m", "series": points}]}
    response = client.patch(url, {"version": 1, "sections": {"metrics": series}}, format="json")
    assert response.status_code in (400, 413)
    response = client.patch(url, {"version": 1, "sections": {"nope": {}}}, format="json")
    assert response.status_code == 400
    response = client.patch(url, {"sections": {"summary": {"text": "x"}}}, format="json")
    assert response.status_code == 400 and "version" in response.data["errors"]


def test_workflow_endpoints_and_incident_reaches_share(as_user, rita, bob):
    pm = started_postmortem(actor=rita)
    rita_client, bob_client = as_user(rita), as_user(bob)
    base = f"{URL}{pm.pk}"
    assert (
        rita_client.post(f"{base}/submit/", {"reviewers": ["bob"]}, format="json").status_code
        == 200
    )
    assert rita_client.post(f"{base}/approve/", {}, format="json").status_code == 403
    assert rita_client.post(f"{base}/publish/", {}, format="json").status_code == 409
    changes = bob_client.post(f"{base}/request-changes/", {"comment": "More detail"}, format="json")
    assert changes.status_code == 200 and changes.data["status"] == "draft"
    assert rita_client.post(f"{base}/submit/", {}, format="json").data["status"] == "in_review"
    assert (
        bob_client.post(f"{base}/approve/", {"comment": "LGTM"}, format="json").status_code == 200
    )
    published = rita_client.post(f"{base}/publish/", {}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert published.status_code == 200, published.data
    assert published.data["status"] == "published"
    assert published.data["incident_stage"] == Stage.SHARE
    replay = rita_client.post(f"{base}/publish/", {}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    retro = rita_client.post(f"{base}/retro-complete/", {}, format="json")
    assert retro.data["incident_stage"] == Stage.RETROSPECT
    assert [r["verdict"] for r in retro.data["reviews"]] == ["request_changes", "approve"]


def test_export_markdown_contains_every_section(as_user, rita):
    pm = started_postmortem(actor=rita)
    response = as_user(rita).get(f"{URL}{pm.pk}/export.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith("# Postmortem: Checkout errors")
    for section in pm.sections.all():
        assert f"## {section.title}" in text
    assert "**Chosen** — **Roll back**" in text and "Why: The previous build" in text
    assert "Card payments failed." in text


def test_private_incident_postmortem_follows_visibility(as_user, rita, bob, admin_user):
    incident = incident_services.incident_declare(
        title="Security thing", severity=severity("SEV2"), actor=rita, private=True
    )
    pm = services.postmortem_start(incident=incident, actor=rita)
    assert as_user(bob).get(f"{URL}{pm.pk}/").status_code == 404
    assert as_user(bob).get(f"{URL}{pm.pk}/export.md").status_code == 404
    assert as_user(bob).get(URL).data["count"] == 0
    assert as_user(bob).post(URL, {"incident": incident.pk}, format="json").status_code == 404
    assert as_user(admin_user).get(f"{URL}{pm.pk}/").status_code == 200
    assert as_user(rita).get(URL).data["count"] == 1


def test_viewer_reads_but_cannot_write(as_user, rita, viewer):
    pm = started_postmortem(actor=rita)
    client = as_user(viewer)
    assert client.get(f"{URL}{pm.pk}/").status_code == 200
    response = client.patch(
        f"{URL}{pm.pk}/", {"version": 1, "sections": {}, "title": "x"}, format="json"
    )
    assert response.status_code == 403


def test_action_items_api_filters_create_and_patch(as_user, rita, bob):
    pm = started_postmortem(actor=rita)
    client = as_user(rita)
    created = client.post(
        "/api/v1/action-items/",
        {"postmortem": pm.pk, "title": "Alert on pool", "owner": "bob", "due_date": "2020-01-01"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ai1",
    )
    assert created.status_code == 201, created.data
    assert created.data["overdue"] is True and created.data["owner"] == "bob"
    client.post(
        "/api/v1/action-items/",
        {"postmortem": pm.pk, "title": "Later", "due_date": "2099-01-01", "kind": "process"},
        format="json",
    )
    assert ActionItem.objects.count() == 2
    listing = client.get("/api/v1/action-items/", {"overdue": "true"}).data
    assert [row["title"] for row in listing["results"]] == ["Alert on pool"]
    assert client.get("/api/v1/action-items/", {"owner": "bob"}).data["count"] == 1
    assert client.get("/api/v1/action-items/", {"status": "done"}).data["count"] == 0
    item_id = created.data["id"]
    patched = client.patch(f"/api/v1/action-items/{item_id}/", {"status": "done"}, format="json")
    assert patched.status_code == 200 and patched.data["completed_at"]
    assert patched.data["overdue"] is False
    bad = client.patch(f"/api/v1/action-items/{item_id}/", {"owner": "ghost"}, format="json")
    assert bad.status_code == 400
    bad = client.patch(f"/api/v1/action-items/{item_id}/", {"title": "x" * 201}, format="json")
    assert bad.status_code == 400


def test_search_api_fallback(as_user, rita):
    pm = started_postmortem(actor=rita)
    services.section_save(
        postmortem=pm,
        key="summary",
        content={"text": "The connection pool was exhausted"},
        expected_version=1,
        actor=rita,
    )
    started_postmortem(actor=rita, incident=recovered_incident(actor=rita, title="Other thing"))
    client = as_user(rita)
    found = client.get(URL, {"search": "pool exhausted"}).data
    assert [row["id"] for row in found["results"]] == [pm.pk]
    assert client.get(URL, {"search": "zebra"}).data["count"] == 0
