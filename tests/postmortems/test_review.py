"""A review with teeth: who may review, the main author, approvals tied to the content,
reviewers told by email through the outbox, and the "Reviews waiting for me" list."""

import pytest
from django.core import mail

from common.exceptions import InvalidInput, NotAllowed
from notifications import outbox
from notifications.models import Delivery, UpdateKind
from notifications.selectors import deliveries_for
from postmortems import review, selectors, services
from postmortems.models import Postmortem, Review
from postmortems.writes import WrongStatus
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", first_name="Rita", last_name="Moreno", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(
        username="bob",
        first_name="Bob",
        last_name="Kim",
        email="bob@example.test",
        role="responder",
    )


@pytest.fixture
def cara(db):
    return UserFactory(username="cara", email="cara@example.test", role="responder")


def _save(pm, actor, key="summary", text="Card payments failed for 20 minutes."):
    pm.refresh_from_db()
    services.section_save(
        postmortem=pm, key=key, content={"text": text}, expected_version=pm.version, actor=actor
    )
    pm.refresh_from_db()
    return pm


def _ready(pm, actor):
    """Choose a remediation (the one thing a draft needs before review)."""
    options = [
        {"id": o.pk, "title": o.title, "chosen": o.title == "Roll back", "reason": "Known good."}
        for o in pm.remediation_options.all()
    ]
    services.section_save(
        postmortem=pm,
        key="remediations",
        content={"rows": options},
        expected_version=pm.version,
        actor=actor,
    )
    pm.refresh_from_db()
    return pm


def test_main_author_is_who_saved_the_content_most_and_a_tie_goes_to_the_starter(rita, bob):
    pm = started_postmortem(actor=rita)
    assert review.authorship(pm).main_author == rita  # nobody edited: the starter
    assert review.authorship(pm).total_saves == 0
    _save(pm, bob)
    assert review.authorship(pm).main_author == bob  # 1 of 1 content saves
    _save(pm, bob, key="impact", text="All card payments.")
    author = review.authorship(pm)
    assert (author.main_author, author.saves, author.total_saves) == (bob, 2, 2)
    _save(pm, rita)
    _save(pm, rita, key="impact", text="Every card payment.")
    author = review.authorship(pm)
    assert (author.main_author, author.saves, author.total_saves) == (rita, 2, 4)  # tie
    # Workflow steps are not content: submitting does not make the submitter an author.
    assert "made 2 of its 4 content saves" in author.describe()


def test_reviewers_must_be_responders_or_admins_and_not_the_main_author(rita, bob, viewer):
    pm = _ready(started_postmortem(actor=rita), rita)
    with pytest.raises(InvalidInput, match="viewer \\(read-only\\); reviewers must be"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[viewer])
    with pytest.raises(InvalidInput, match="Rita Moreno \\(rita\\) is the main author"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[rita])
    with pytest.raises(InvalidInput, match="main author"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob, rita])
    with pytest.raises(InvalidInput, match="Reviewers: name at least one"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[])
    pm.refresh_from_db()
    assert pm.status == Postmortem.Status.DRAFT and not Delivery.objects.exists()


def test_self_approval_and_a_viewer_approval_are_refused_a_non_author_approval_publishes(
    rita, bob, viewer
):
    pm = _ready(started_postmortem(actor=rita), rita)
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    with pytest.raises(NotAllowed, match="self-approval"):
        services.postmortem_approve(postmortem=pm, actor=rita)
    with pytest.raises(NotAllowed, match="Viewers \\(read-only\\) cannot review"):
        services.postmortem_approve(postmortem=pm, actor=viewer)
    with pytest.raises(WrongStatus, match="Waiting for approval from bob"):
        services.postmortem_publish(postmortem=pm, actor=rita)
    approval = services.postmortem_approve(postmortem=pm, actor=bob, comment="Clear.")
    assert len(approval.content_hash) == 64
    assert review.current_approvals(pm) == [approval]
    services.postmortem_publish(postmortem=pm, actor=rita)
    pm.refresh_from_db()
    assert pm.status == Postmortem.Status.PUBLISHED


def test_a_change_after_approval_withdraws_it_and_sends_it_back_to_review(rita, bob, cara):
    pm = _ready(started_postmortem(actor=rita), rita)
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob, cara])
    services.postmortem_approve(postmortem=pm, actor=bob)
    # Cara has not approved yet: nothing of hers to withdraw. A typo fix is a change.
    _save(pm, rita, text="Card payments failed for 20 minutes")
    approval = Review.objects.get(reviewer=bob)
    assert approval.withdrawn_at is not None and approval.withdrawn_by == rita
    assert approval.withdrawn_reason.endswith("” changed by Rita Moreno after the approval")
    assert pm.status == Postmortem.Status.IN_REVIEW
    assert {r.username for r in review.pending_reviewers(pm)} == {"bob", "cara"}
    reasons = list(pm.history.values_list("history_change_reason", flat=True))
    assert "edited summary; approval by bob withdrawn: back to review" in reasons
    history = selectors.postmortem_history(postmortem=pm)
    assert any("withdrawn" in row.reason for row in history)
    with pytest.raises(WrongStatus, match="Waiting for approval from bob, cara"):
        services.postmortem_publish(postmortem=pm, actor=rita)
    # Bob is asked again: a second personal notice to him.
    asked = Delivery.objects.filter(destination__user=bob).order_by("created_at")
    assert asked.count() == 2 and "approval was withdrawn" in asked.last().rendered_text
    # A save that changes nothing withdraws nothing.
    services.postmortem_approve(postmortem=pm, actor=bob)
    services.postmortem_approve(postmortem=pm, actor=cara)
    _save(pm, rita, text="Card payments failed for 20 minutes")
    assert review.pending_reviewers(pm) == []
    services.postmortem_publish(postmortem=pm, actor=rita)


def test_an_action_item_added_after_approval_withdraws_it(rita, bob):
    pm = _ready(started_postmortem(actor=rita), rita)
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    services.postmortem_approve(postmortem=pm, actor=bob)
    services.action_item_create(postmortem=pm, actor=rita, data={"title": "Alert on 5xx"})
    assert Review.objects.get().withdrawn_reason.startswith("action item “Alert on 5xx”")
    assert [r.username for r in review.pending_reviewers(pm)] == ["bob"]


def test_reviewers_are_emailed_through_the_outbox_and_see_it_in_their_list(
    rita, bob, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from notifications import tasks

    published = []
    monkeypatch.setattr(
        tasks.delivery_send_task,
        "apply_async",
        lambda args, producer=None, **options: published.append(args),
    )
    pm = _ready(started_postmortem(actor=rita), rita)
    assert list(selectors.reviews_waiting_for(user=bob)) == []
    with django_capture_on_commit_callbacks(execute=True):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    delivery = Delivery.objects.get(destination__user=bob)
    assert published == [(str(delivery.pk),)]
    assert delivery.update.kind == UpdateKind.PERSONAL
    assert delivery.destination.kind == "email" and delivery.destination.target == bob.email
    assert delivery in deliveries_for(incident=pm.incident)  # the incident's deliveries log
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT
    (message,) = mail.outbox
    assert message.to == ["bob@example.test"]
    assert message.subject == f"#{pm.incident_id} Review requested: postmortem “{pm.title}”"
    assert f"/postmortems/{pm.pk}/" in message.body and "/postmortems/reviews/" in message.body
    assert list(selectors.reviews_waiting_for(user=bob)) == [pm]
    assert list(selectors.reviews_waiting_for(user=rita)) == []
    services.postmortem_approve(postmortem=pm, actor=bob)
    assert list(selectors.reviews_waiting_for(user=bob)) == []
    _save(pm, rita, text="Rewritten.")
    assert list(selectors.reviews_waiting_for(user=bob)) == [pm]


def test_a_reviewer_without_an_email_is_named_but_not_emailed(rita, db):
    dana = UserFactory(username="dana", email="", role="responder")
    pm = _ready(started_postmortem(actor=rita), rita)
    services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[dana])
    assert not Delivery.objects.filter(destination__user=dana).exists()
    assert list(selectors.reviews_waiting_for(user=dana)) == [pm]


def test_a_private_incidents_reviewer_must_see_it(rita, bob):
    pm = _ready(started_postmortem(actor=rita), rita)
    incident = pm.incident
    incident.private = True
    incident.save(update_fields=["private"])
    with pytest.raises(InvalidInput, match="cannot see this private incident"):
        services.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])


def test_the_api_names_the_refusals_and_shows_withdrawn_approvals(rita, bob, viewer, as_user):
    pm = _ready(started_postmortem(actor=rita), rita)
    client = as_user(rita)
    refused = client.post(
        f"/api/v1/postmortems/{pm.pk}/submit/", {"reviewers": [viewer.username]}, format="json"
    )
    assert refused.status_code == 400, refused.content
    assert "reviewers must be responders or admins" in refused.json()["errors"]["reviewers"][0]
    ok = client.post(f"/api/v1/postmortems/{pm.pk}/submit/", {"reviewers": ["bob"]}, format="json")
    assert ok.status_code == 200, ok.content
    self_approval = client.post(f"/api/v1/postmortems/{pm.pk}/approve/", {}, format="json")
    assert self_approval.status_code == 403 and "self-approval" in self_approval.json()["detail"]
    approved = as_user(bob).post(f"/api/v1/postmortems/{pm.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    _save(pm, rita, text="Changed after the approval.")
    (approval,) = client.get(f"/api/v1/postmortems/{pm.pk}/").json()["reviews"]
    assert approval["verdict"] == "approve" and len(approval["content_hash"]) == 64
    assert approval["withdrawn_at"] and "after the approval" in approval["withdrawn_reason"]
