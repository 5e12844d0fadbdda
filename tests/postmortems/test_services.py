from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.exceptions import Conflict, InvalidInput, NotAllowed
from incidents import lifecycle
from incidents import services as incident_services
from incidents.lifecycle import CannotClose, Stage
from incidents.models import TimelineEvent
from notifications.models import StatusUpdate
from notifications.services import update_post
from postmortems import services
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Review,
    Section,
)
from postmortems.services import VersionConflict, WrongStatus
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import default_template, recovered_incident, started_postmortem

pytestmark = pytest.mark.django_db

DEFAULT_KEYS = [
    "summary",
    "impact",
    "timeline",
    "detection",
    "metrics",
    "thresholds",
    "log_window",
    "failure_points",
    "middleware",
    "remediations",
    "root_cause",
    "went_well",
    "action_items",
    "recurrence",
]


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role="responder")


def _choose(pm, actor, **extra):
    options = [
        {"id": o.pk, "title": o.title, "chosen": o.title == "Roll back", "reason": "Known good."}
        for o in pm.remediation_options.all()
    ]
    return services.section_save(
        postmortem=pm,
        key="remediations",
        content={"rows": options},
        expected_version=pm.version,
        actor=actor,
    )


def test_default_template_has_design_keys_in_order():
    template = default_template()
    assert [s.key for s in template.sections.all()] == DEFAULT_KEYS
    assert template.is_default and template.version == 1


def test_template_revise_writes_a_new_version_and_postmortems_keep_theirs(rita, admin_user):
    pm = started_postmortem(actor=rita)
    old = default_template()
    sections = [{"key": s.key, "title": s.title, "kind": s.kind} for s in old.sections.all()]
    sections.reverse()
    sections = [s for s in sections if s["key"] != "thresholds"]
    sections.append({"key": "checks", "title": "Retro checklist", "kind": "checklist"})
    revised = services.template_revise(template=old, sections=sections, actor=admin_user)
    old.refresh_from_db()
    assert revised.version == 2 and revised.is_current and revised.is_default
    assert not old.is_current and not old.is_default
    assert revised.sections.first().key == DEFAULT_KEYS[-1]
    assert "checks" in [s.key for s in revised.sections.all()]
    assert "thresholds" not in [s.key for s in revised.sections.all()]
    pm.refresh_from_db()
    assert pm.template == old
    assert [s.key for s in pm.sections.all()] == DEFAULT_KEYS
    with pytest.raises(VersionConflict):
        services.template_revise(template=old, sections=sections, actor=admin_user)
    with pytest.raises(NotAllowed):
        services.template_revise(template=revised, sections=sections, actor=rita)


def test_template_create_for_a_team_and_validation(admin_user):
    template = services.template_create(
        name="Payments retro",
        sections=[
            {"title": "What happened", "kind": "markdown"},
            {"key": "t", "title": "T", "kind": "timeline"},
        ],
        actor=admin_user,
    )
    assert [s.key for s in template.sections.all()] == ["what_happened", "t"]
    with pytest.raises(InvalidInput):
        services.template_create(
            name="Bad", sections=[{"key": "a", "title": "A", "kind": "poem"}], actor=admin_user
        )
    with pytest.raises(InvalidInput):
        services.template_create(
            name="Dup",
            sections=[{"key": "a", "title": "A", "kind": "markdown"}] * 2,
            actor=admin_user,
        )


def test_start_prefills_from_the_incident(rita):
    incident = recovered_incident(actor=rita)
    incident_services.incident_update(
        incident=incident,
        actor=rita,
        data={"failure_patterns": ["change", "cascading"], "affected_users_count": 1200},
    )
    incident_services.note_add(incident=incident, text="Rollback started.", actor=rita)
    incident.refresh_from_db()
    pm = services.postmortem_start(incident=incident, actor=rita)
    sections = {s.key: s for s in pm.sections.all()}
    assert sections["summary"].content["text"] == "Card payments failed."
    assert "1,200 users" in sections["impact"].content["text"]
    detection = sections["detection"].content["text"]
    assert "Internal" in detection and "Time to detect" in detection
    assert "Detected before customers:** unknown" in detection

    rows = sections["timeline"].content["rows"]
    stage_rows = [r for r in rows if r["kind"] == "stage"]
    expected = [
        (stage, getattr(incident, lifecycle.STAGE_FIELDS[stage][0]))
        for stage in lifecycle.ORDER
        if getattr(incident, lifecycle.STAGE_FIELDS[stage][0])
    ]
    assert [r["text"].split(":")[0] for r in stage_rows] == [Stage(s).label for s, _ in expected]
    assert [r["at"] for r in stage_rows] == [
        at.isoformat().replace("+00:00", "Z") for _, at in expected
    ]
    assert any("Rollback started." in r["text"] for r in rows)
    assert any(r["kind"] == "decision" for r in rows)
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    assert sections["timeline"].generated["rows"] == rows

    options = list(pm.remediation_options.all())
    assert [o.title for o in options] == ["Roll back", "Fix forward"]
    chosen = [o for o in options if o.chosen]
    assert len(chosen) == 1 and chosen[0].reason == "The previous build was known good."
    assert sections["root_cause"].content["failure_patterns"] == ["change", "cascading"]
    assert pm.template == default_template() and pm.version == 1
    assert pm.history.first().history_user == rita
    assert pm.search_document.startswith("Checkout errors")


def test_start_twice_is_a_conflict_and_viewers_cannot_start(rita, viewer):
    pm = started_postmortem(actor=rita)
    with pytest.raises(Conflict) as error:
        services.postmortem_start(incident=pm.incident, actor=rita)
    assert error.value.extra["postmortem"] == pm.pk
    with pytest.raises(NotAllowed):
        services.postmortem_start(incident=recovered_incident(actor=rita, title="x"), actor=viewer)


def test_editing_the_timeline_keeps_the_generated_version(rita):
    pm = started_postmortem(actor=rita)
    generated = pm.sections.get(key="timeline").generated["rows"]
    services.section_save(
        postmortem=pm,
        key="timeline",
        content={"rows": [{"at": "2026-01-01T10:00:00Z", "text": "Only this"}]},
        expected_version=1,
        actor=rita,
    )
    section = Section.objects.get(postmortem=pm, key="timeline")
    assert section.content["rows"] == [
        {"at": "2026-01-01T10:00:00Z", "text": "Only this", "kind": ""}
    ]
    assert section.generated["rows"] == generated
    assert section.history.first().history_user == rita


def test_stale_save_is_a_conflict_naming_who_saved_last(rita, bob):
    pm = started_postmortem(actor=rita)
    services.section_save(
        postmortem=pm, key="summary", content={"text": "Rita's"}, expected_version=1, actor=rita
    )
    with pytest.raises(VersionConflict) as error:
        services.section_save(
            postmortem=pm, key="summary", content={"text": "Bob's"}, expected_version=1, actor=bob
        )
    assert "rita" in error.value.message.lower() or "Rita" in error.value.message
    assert error.value.extra["last_saved_by"] == "rita"
    assert error.value.extra["current_version"] == 2
    assert Section.objects.get(postmortem=pm, key="summary").content["text"] == "Rita's"


def test_remediations_exactly_one_chosen_with_reason(rita, bob):
    pm = started_postmortem(actor=rita)
    rows = [
        {"title": "A", "chosen": True, "reason": "x"},
        {"title": "B", "chosen": True, "reason": "y"},
    ]
    with pytest.raises(InvalidInput, match="exactly one"):
        services.section_save(
            postmortem=pm,
            key="remediations",
            content={"rows": rows},
            expected_version=1,
            actor=rita,
        )
    with pytest.raises(InvalidInput, match="why"):
        services.section_save(
            postmortem=pm,
            key="remediations",
            content={"rows": [{"title": "A", "chosen": True}]},
            expected_version=1,
            actor=rita,
        )
    # The database holds the invariant too.
    with pytest.raises(IntegrityError), transaction.atomic():
        RemediationOption.objects.create(postmortem=pm, title="No reason", chosen=False)
        RemediationOption.objects.filter(postmortem=pm, title="No reason").update(chosen=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        RemediationOption.objects.create(postmortem=pm, title="Second", chosen=True, reason="r")
    # None chosen: cannot go to review.
    services.section_save(
        postmortem=pm,
        key="remediations",
        content={"rows": [{"title": "A"}, {"title": "B"}]},
        expected_version=1,
        actor=rita,
    )
    with pytest.raises(InvalidInput, match="Remediation options: choose exactly one"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])


def test_review_workflow_and_publish_moves_incident_to_share(rita, bob):
    pm = started_postmortem(actor=rita)
    with pytest.raises(InvalidInput):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[])
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    pm.refresh_from_db()
    assert pm.status == Postmortem.Status.IN_REVIEW
    with pytest.raises(NotAllowed):
        services.postmortem_approve(postmortem=pm, actor=rita)
    with pytest.raises(WrongStatus, match="bob"):
        services.postmortem_publish(postmortem=pm, actor=rita)
    with pytest.raises(InvalidInput):
        services.postmortem_request_changes(postmortem=pm, actor=bob, comment="")
    services.postmortem_request_changes(postmortem=pm, actor=bob, comment="Add metrics.")
    pm.refresh_from_db()
    assert pm.status == Postmortem.Status.DRAFT
    services.postmortem_submit(postmortem=pm, actor=rita)
    services.postmortem_approve(postmortem=pm, actor=bob, comment="Good.")
    assert list(Review.objects.values_list("verdict", flat=True)) == [
        "request_changes",
        "approve",
    ]
    # A customer summary needs a public incident; the internal title never becomes one.
    with pytest.raises(InvalidInput) as never_public:
        services.postmortem_publish(postmortem=pm, actor=rita, public_summary="We fixed it.")
    assert never_public.value.field == "public_summary"
    update_post(
        incident=pm.incident,
        message="Payments are failing.",
        actor=rita,
        audiences=["public"],
        public_status="investigating",
        public_title="Payment problems",
    )
    updates_before = StatusUpdate.objects.count()
    services.postmortem_publish(postmortem=pm, actor=rita, public_summary="We fixed payments.")
    pm.refresh_from_db()
    incident = pm.incident
    incident.refresh_from_db()
    assert pm.status == Postmortem.Status.PUBLISHED and pm.published_by == rita
    assert incident.stage == Stage.SHARE and incident.shared_by == rita
    skipped = TimelineEvent.objects.get(incident=incident, kind=TimelineEvent.Kind.STAGE_SKIPPED)
    assert skipped.data["skipped"] == ["analyze"]
    updates = list(StatusUpdate.objects.order_by("pk")[updates_before:])
    # The move to share is a stage note (responders only); the publication itself is
    # routed as a "postmortem" update, which the business team hears for a SEV2.
    published_update = next(u for u in updates if u.kind == "postmortem")
    assert "Postmortem published" in published_update.message
    assert {a.slug for a in published_update.audiences.all()} >= {"responders", "business"}
    public = next(u for u in updates if u.message == "We fixed payments.")
    assert [a.slug for a in public.audiences.all()] == ["public"]
    assert public.public_status == "resolved" and public.public_title == ""
    with pytest.raises(WrongStatus):
        services.section_save(
            postmortem=pm,
            key="summary",
            content={"text": "x"},
            expected_version=pm.version,
            actor=rita,
        )
    services.retro_complete(postmortem=pm, actor=rita)
    incident.refresh_from_db()
    assert incident.stage == Stage.RETROSPECT


def test_closing_rules_need_a_published_postmortem_and_owned_items(rita, bob):
    incident = recovered_incident(actor=rita)
    incident_services.incident_move(incident=incident, to="retrospect", actor=rita)
    assert any("published postmortem" in r for r in lifecycle.closing_blockers(incident))
    pm = services.postmortem_start(incident=incident, actor=rita)
    services.action_item_create(postmortem=pm, actor=rita, data={"title": "Add alert"})
    _choose(Postmortem.objects.get(pk=pm.pk), rita)
    pm.refresh_from_db()
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    services.postmortem_approve(postmortem=pm, actor=bob)
    services.postmortem_publish(postmortem=pm, actor=rita)
    incident.refresh_from_db()
    assert incident.stage == Stage.RETROSPECT  # already past share: no move back
    blockers = lifecycle.closing_blockers(incident)
    assert blockers == ["1 action item(s) need an owner and a due date."]
    with pytest.raises(CannotClose):
        incident_services.incident_close(incident=incident, actor=rita)
    item = ActionItem.objects.get()
    services.action_item_update(
        item=item, actor=rita, data={"owner": "bob", "due_date": "2030-01-01"}
    )
    incident_services.incident_close(incident=incident, actor=rita)


def test_action_items_and_completion(rita, bob):
    pm = started_postmortem(actor=rita)
    services.section_save(
        postmortem=pm,
        key="action_items",
        content={
            "rows": [
                {
                    "title": "Alert on 5xx",
                    "term": "short",
                    "kind": "detect",
                    "owner": "bob",
                    "due_date": "2030-01-01",
                    "priority": "P1",
                },
                {"title": "Canary deploys", "term": "long", "kind": "prevent", "status": "done"},
            ]
        },
        expected_version=1,
        actor=rita,
    )
    items = list(ActionItem.objects.order_by("position"))
    assert [i.title for i in items] == ["Alert on 5xx", "Canary deploys"]
    assert items[0].owner == bob and items[0].priority == "P1"
    assert items[1].completed_at is not None
    with pytest.raises(InvalidInput, match="Action item, Owner: nobody active is called 'nobody'"):
        services.action_item_update(item=items[0], actor=rita, data={"owner": "nobody"})
    with pytest.raises(InvalidInput):
        services.action_item_update(item=items[0], actor=rita, data={"tracker_url": "javascript:x"})


def test_reminders_once_per_item_per_day(rita, bob):
    pm = started_postmortem(actor=rita)
    today = timezone.localdate()
    for title, due in [
        ("Overdue", today - timedelta(days=2)),
        ("Today", today),
        ("Later", today + timedelta(days=5)),
    ]:
        services.action_item_create(
            postmortem=pm,
            actor=rita,
            data={"title": title, "owner": "bob", "due_date": due.isoformat()},
        )
    services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Unowned", "due_date": today.isoformat()}
    )
    before = StatusUpdate.objects.count()
    assert services.action_items_remind(today=today) == 2
    update = StatusUpdate.objects.order_by("-pk").first()
    assert (
        "@bob" in update.message and "Overdue" in update.message and "Later" not in update.message
    )
    assert [a.slug for a in update.audiences.all()] == ["responders"]
    assert services.action_items_remind(today=today) == 0
    assert StatusUpdate.objects.count() == before + 1
    assert services.action_items_remind(today=today + timedelta(days=1)) == 2


def test_template_section_order_is_the_postmortem_order(admin_user, rita):
    template = services.template_create(
        name="Short",
        sections=[
            {"key": "b", "title": "B", "kind": "went_well"},
            {"key": "a", "title": "A", "kind": "markdown"},
        ],
        actor=admin_user,
    )
    pm = services.postmortem_start(
        incident=recovered_incident(actor=rita), actor=rita, template=template
    )
    assert [s.key for s in pm.sections.all()] == ["b", "a"]
    assert PostmortemTemplate.objects.filter(is_current=True).count() == 2


def test_two_editors_on_different_sections_do_not_conflict(rita, bob):
    pm = started_postmortem(actor=rita)
    services.section_save(
        postmortem=pm, key="summary", content={"text": "Rita"}, expected_version=1, actor=rita
    )
    services.section_save(
        postmortem=pm, key="impact", content={"text": "Bob"}, expected_version=1, actor=bob
    )
    texts = {s.key: s.content.get("text") for s in Section.objects.filter(postmortem=pm)}
    assert texts["summary"] == "Rita" and texts["impact"] == "Bob"
    with pytest.raises(VersionConflict) as error:
        services.section_save(
            postmortem=pm, key="impact", content={"text": "Rita"}, expected_version=2, actor=rita
        )
    assert error.value.extra["sections"] == ["impact"]
    assert error.value.extra["last_saved_by"] == "bob"
    assert "Impact" in error.value.message


def test_action_item_added_elsewhere_makes_an_open_editor_stale(rita, bob):
    pm = started_postmortem(actor=rita)
    services.action_item_create(postmortem=pm, actor=bob, data={"title": "From the API"})
    with pytest.raises(VersionConflict):
        services.section_save(
            postmortem=pm, key="action_items", content={"rows": []}, expected_version=1, actor=rita
        )
    assert ActionItem.objects.filter(title="From the API").exists()


def test_title_edits_conflict_only_with_title_edits(rita, bob):
    pm = started_postmortem(actor=rita)
    services.postmortem_update(postmortem=pm, actor=rita, expected_version=1, title="New title")
    services.postmortem_update(
        postmortem=pm, actor=bob, expected_version=1, sections={"summary": {"text": "x"}}
    )
    with pytest.raises(VersionConflict, match="the title"):
        services.postmortem_update(postmortem=pm, actor=bob, expected_version=1, title="Other")
