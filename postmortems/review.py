"""The review workflow: draft → in review (named reviewers) → published → retro held.

The rules that give a review its meaning:

* **Reviewers** are responders or admins who can see the incident, and not the
  postmortem's *main author*.
* **The main author** is the person with the most saves of the document's content
  (each save of a section or the title, each action item added or edited, counted
  from the postmortem's history). A tie, or a postmortem nobody has edited yet, goes
  to whoever started it. The main author cannot approve: that would be a
  self-approval.
* **An approval is tied to the content it approved** (``Review.content_hash``, a
  SHA-256 of the title, sections, remediation options and action items). Any change
  to the content afterwards — a typo fix too — withdraws the approval (the review
  row says when, by whom and why; the history says so), the postmortem is back in
  review, and its reviewer is asked again.
* **Publishing** needs a current approval from every named reviewer (the main
  author excepted) and at least one from someone other than the main author.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from common.exceptions import ApplicationError, InvalidInput, NotAllowed
from common.roles import can_drive_incidents
from common.transitions import Transitions
from incidents import lifecycle
from incidents import services as incident_services
from incidents.lifecycle import Stage
from incidents.visibility import can_see
from notifications.models import NoticeKind, PublicStatus, UpdateKind
from notifications.personal import in_notice, personal_notice_post
from notifications.services import update_check, update_post
from postmortems.models import PUBLIC_SUMMARY_MAX, Postmortem, Review, SectionKind
from postmortems.writes import (
    CONTENT_SAVE_REASONS,
    WrongStatus,
    bump,
    content_hash,
    display_name,
    lock,
    require_editor,
)

Status = Postmortem.Status
# A draft goes to review; review sends it back to draft or publishes it; published
# is final (its action items are still tracked to done).
FLOW = Transitions(
    {
        Status.DRAFT: (Status.IN_REVIEW,),
        Status.IN_REVIEW: (Status.DRAFT, Status.PUBLISHED),
        Status.PUBLISHED: (),
    }
)
MAX_REVIEWERS = 20
AUTHOR_HELP = (
    "The main author is whoever saved the content most often (sections, title, action "
    "items); a tie goes to whoever started the postmortem. The main author cannot be a "
    "reviewer or approve."
)
WITHDRAW_HELP = (
    "An approval is for the exact content approved: any later change, a typo fix too, "
    "withdraws it and sends the postmortem back to review."
)


@dataclass(frozen=True)
class Authorship:
    """Who wrote the postmortem: the main author and their share of the content saves."""

    main_author: object
    saves: int
    total_saves: int

    @property
    def share(self) -> str:
        if not self.total_saves:
            return "started it; nobody has edited it yet"
        return f"{self.saves} of its {self.total_saves} content saves"

    def describe(self) -> str:
        if not self.total_saves:
            return f"{display_name(self.main_author)} started it and nobody has edited it yet"
        return f"{display_name(self.main_author)} made {self.share}"


def authorship(postmortem: Postmortem) -> Authorship:
    """The main author by the history of content saves (see the module docstring)."""
    content_saves = Q()
    for reason in CONTENT_SAVE_REASONS:
        content_saves |= Q(history_change_reason__startswith=reason)
    counts = list(
        postmortem.history.filter(content_saves, history_user__isnull=False)
        .values("history_user")
        .annotate(saves=Count("history_id"), first=Min("history_date"))
    )
    total = sum(row["saves"] for row in counts)
    creator_id = postmortem.created_by_id
    if not counts:
        return Authorship(main_author=postmortem.created_by, saves=0, total_saves=0)
    best = max(row["saves"] for row in counts)
    tied = [row for row in counts if row["saves"] == best]
    chosen = next((row for row in tied if row["history_user"] == creator_id), None)
    chosen = chosen or min(tied, key=lambda row: row["first"])
    main_author = (
        postmortem.created_by
        if chosen["history_user"] == creator_id
        else get_user_model().objects.get(pk=chosen["history_user"])
    )
    return Authorship(main_author=main_author, saves=chosen["saves"], total_saves=total)


def _is(user, other) -> bool:
    return user is not None and other is not None and user.pk == other.pk


def submit_problems(postmortem: Postmortem) -> list[str]:
    """What stops this postmortem from going to review."""
    problems = []
    has_remediations = postmortem.sections.filter(kind=SectionKind.REMEDIATIONS).exists()
    if has_remediations:
        chosen = [o for o in postmortem.remediation_options.all() if o.chosen]
        if len(chosen) != 1:
            problems.append("Remediation options: choose exactly one, and say why.")
        elif not chosen[0].reason.strip():
            problems.append("Remediation options: say why the chosen one was chosen.")
    return problems


def _check_reviewers(postmortem: Postmortem, reviewers: list, *, author: Authorship) -> None:
    if not reviewers:
        raise InvalidInput("Reviewers: name at least one reviewer.", field="reviewers")
    if len(reviewers) > MAX_REVIEWERS:
        raise InvalidInput(f"Reviewers: at most {MAX_REVIEWERS}.", field="reviewers")
    for reviewer in reviewers:
        name = f"{display_name(reviewer)} ({reviewer.get_username()})"
        if not reviewer.is_active:
            raise InvalidInput(f"Reviewers: {name} is not an active user.", field="reviewers")
        if not can_drive_incidents(reviewer):
            raise InvalidInput(
                f"Reviewers: {name} is a viewer (read-only); reviewers must be responders "
                "or admins.",
                field="reviewers",
            )
        if _is(reviewer, author.main_author):
            raise InvalidInput(
                f"Reviewers: {name} is the main author ({author.describe()}), so cannot "
                "review it. Name someone else.",
                field="reviewers",
            )
        if not can_see(reviewer, postmortem.incident):
            raise InvalidInput(
                f"Reviewers: {name} cannot see this private incident; give them a role on "
                "it first.",
                field="reviewers",
            )


def _postmortem_url(postmortem: Postmortem) -> str:
    path = reverse("postmortems:detail", args=[postmortem.pk])
    return settings.KEEL_PUBLIC_URL.rstrip("/") + path


def _ask_to_review(postmortem: Postmortem, reviewers: Iterable, *, actor, why: str) -> None:
    """One notice per reviewer through the outbox, by the channel each chose (see
    ``notifications.personal``). Deduplicated per reviewer and content: asked again
    only about content they were not yet asked to review."""
    reviewed = content_hash(postmortem)[:16]
    title = in_notice(postmortem.incident, f"“{postmortem.title}”", private_as="(private)")
    for reviewer in reviewers:
        personal_notice_post(
            incident=postmortem.incident,
            user=reviewer,
            actor=actor,
            kind=NoticeKind.REVIEW_REQUESTED,
            about=f"postmortem:{postmortem.pk}:content:{reviewed}",
            message=(
                f"Review requested: postmortem {title}\n\n"
                f"{display_name(actor)} {why}\n"
                f"Review it: {_postmortem_url(postmortem)}\n"
                f"All reviews waiting for you: "
                f"{settings.KEEL_PUBLIC_URL.rstrip('/')}{reverse('postmortems:reviews')}"
            ),
        )


@transaction.atomic
def postmortem_submit(
    *, postmortem: Postmortem, actor, reviewers: Iterable | None = None
) -> Postmortem:
    """draft → in review, with named reviewers (see the module's rules), each asked
    through the outbox (email or Slack DM, as they chose)."""
    require_editor(actor)
    postmortem = lock(postmortem)
    FLOW.require(
        postmortem.status,
        Status.IN_REVIEW,
        lambda: WrongStatus(
            f"Only a draft can be submitted; this one is {postmortem.get_status_display().lower()}."
        ),
    )
    reviewers = list(reviewers) if reviewers is not None else list(postmortem.reviewers.all())
    _check_reviewers(postmortem, reviewers, author=authorship(postmortem))
    problems = submit_problems(postmortem)
    if problems:
        raise InvalidInput(" ".join(problems), field="remediations", extra={"problems": problems})
    postmortem.status = Postmortem.Status.IN_REVIEW
    postmortem.submitted_at = timezone.now()
    postmortem.reviewers.set(reviewers)
    bump(postmortem, actor=actor, reason="submitted for review", fields=["status", "submitted_at"])
    _ask_to_review(postmortem, reviewers, actor=actor, why="asks you to review this postmortem.")
    return postmortem


def _review(postmortem: Postmortem, *, actor, verdict: str, comment: str) -> Review:
    if postmortem.status != Postmortem.Status.IN_REVIEW:
        raise WrongStatus("Only a postmortem in review can be reviewed.")
    if not can_drive_incidents(actor):
        raise NotAllowed("Viewers (read-only) cannot review postmortems.")
    if not postmortem.reviewers.filter(pk=actor.pk).exists():
        raise NotAllowed("Only the named reviewers can review this postmortem.")
    comment = (comment or "").strip()
    if len(comment) > 5_000:
        raise InvalidInput("Comment: at most 5000 characters.", field="comment")
    return Review.objects.create(
        postmortem=postmortem,
        reviewer=actor,
        verdict=verdict,
        comment=comment,
        postmortem_version=postmortem.version,
        content_hash=content_hash(postmortem),
    )


@transaction.atomic
def postmortem_approve(*, postmortem: Postmortem, actor, comment: str = "") -> Review:
    """A named reviewer approves the content as it is now (its hash is recorded)."""
    postmortem = lock(postmortem)
    author = authorship(postmortem)
    if _is(actor, author.main_author):
        raise NotAllowed(
            f"You are the main author ({author.describe()}): approving it yourself would be "
            "a self-approval. Another reviewer must approve it."
        )
    return _review(postmortem, actor=actor, verdict=Review.Verdict.APPROVE, comment=comment)


@transaction.atomic
def postmortem_request_changes(*, postmortem: Postmortem, actor, comment: str) -> Review:
    """A reviewer sends it back to draft, saying what to change."""
    postmortem = lock(postmortem)
    if not (comment or "").strip():
        raise InvalidInput("Comment: say what should change.", field="comment")
    review = _review(
        postmortem, actor=actor, verdict=Review.Verdict.REQUEST_CHANGES, comment=comment
    )
    postmortem.status = Postmortem.Status.DRAFT
    bump(postmortem, actor=actor, reason="changes requested", fields=["status"])
    return review


def _this_round(postmortem: Postmortem):
    reviews = postmortem.reviews.all()
    if postmortem.submitted_at:
        reviews = reviews.filter(created_at__gte=postmortem.submitted_at)
    return reviews


def current_approvals(postmortem: Postmortem, *, author: Authorship | None = None) -> list[Review]:
    """Approvals that count: this round's, each reviewer's latest verdict, not withdrawn,
    of the content as it is now, and not by the main author."""
    author = author or authorship(postmortem)
    latest: dict[int, Review] = {}
    for review in _this_round(postmortem).select_related("reviewer").order_by("created_at", "id"):
        latest[review.reviewer_id] = review
    now_hash = None
    approvals = []
    for review in latest.values():
        if review.verdict != Review.Verdict.APPROVE or review.withdrawn_at is not None:
            continue
        if _is(review.reviewer, author.main_author):
            continue
        now_hash = now_hash or content_hash(postmortem)
        if review.content_hash == now_hash:
            approvals.append(review)
    return approvals


def pending_reviewers(
    postmortem: Postmortem,
    *,
    author: Authorship | None = None,
    approvals: list[Review] | None = None,
) -> list:
    """Named reviewers (the main author excepted) without a current approval."""
    author = author or authorship(postmortem)
    if approvals is None:
        approvals = current_approvals(postmortem, author=author)
    approved = {review.reviewer_id for review in approvals}
    return [
        reviewer
        for reviewer in postmortem.reviewers.all()
        if reviewer.pk not in approved and not _is(reviewer, author.main_author)
    ]


def approvals_withdraw(*, postmortem: Postmortem, actor, what: str) -> list[Review]:
    """After a save of the content (inside its transaction, the row locked): withdraw
    this round's approvals of content that is no longer the content, and ask their
    reviewers again. Returns the withdrawn reviews (none: nothing approved changed)."""
    if postmortem.status != Postmortem.Status.IN_REVIEW:
        return []
    live = list(
        _this_round(postmortem)
        .filter(verdict=Review.Verdict.APPROVE, withdrawn_at__isnull=True)
        .select_related("reviewer")
    )
    if not live:
        return []
    now_hash = content_hash(postmortem)
    withdrawn = [review for review in live if review.content_hash != now_hash]
    now = timezone.now()
    reason = f"{what} changed by {display_name(actor)} after the approval"
    for review in withdrawn:
        review.withdrawn_at = now
        review.withdrawn_by = actor
        review.withdrawn_reason = reason[:200]
        review.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawn_reason"])
    _ask_to_review(
        postmortem,
        [review.reviewer for review in withdrawn],
        actor=actor,
        why=f"changed {what} after you approved it, so your approval was withdrawn "
        "(any change, a typo fix too, needs a new approval). Please review it again.",
    )
    return withdrawn


@transaction.atomic
def postmortem_publish(*, postmortem: Postmortem, actor, public_summary: str = "") -> Postmortem:
    """in review (approved under the module's rules) → published. The incident moves to
    **share** (skipping forward if needed), the routed audiences are told through
    the outbox, and an optional customer-facing summary goes to the public."""

    require_editor(actor)
    postmortem = lock(postmortem)
    FLOW.require(
        postmortem.status,
        Status.PUBLISHED,
        lambda: WrongStatus("Only a postmortem in review can be published."),
    )
    author = authorship(postmortem)
    approvals = current_approvals(postmortem, author=author)
    waiting = pending_reviewers(postmortem, author=author, approvals=approvals)
    if waiting:
        names = ", ".join(sorted(r.get_username() for r in waiting))
        raise WrongStatus(
            f"Waiting for approval from {names}.", extra={"pending": names.split(", ")}
        )
    if not approvals:
        raise WrongStatus(
            f"Publishing needs an approval from someone other than the main author "
            f"({author.describe()}): name another reviewer.",
            extra={"pending": []},
        )
    public_summary = (public_summary or "").strip()
    if len(public_summary) > PUBLIC_SUMMARY_MAX:
        raise InvalidInput(
            f"Public summary: at most {PUBLIC_SUMMARY_MAX} characters.", field="public_summary"
        )
    if public_summary:
        # The summary joins the customers' existing public incident under its public
        # title (the internal title must never become one). Checked before anything is
        # written, by the same check the status page worker runs.
        try:
            update_check(
                incident=postmortem.incident,
                message=public_summary,
                actor=actor,
                audiences=["public"],
                public_status=PublicStatus.RESOLVED,
            )
        except ApplicationError as exc:
            raise InvalidInput(
                f"The public summary cannot be posted: {exc.message}", field="public_summary"
            ) from exc
    now = timezone.now()
    postmortem.status = Postmortem.Status.PUBLISHED
    postmortem.published_at = now
    postmortem.published_by = actor
    postmortem.public_summary = public_summary
    bump(
        postmortem,
        actor=actor,
        reason="published",
        fields=["status", "published_at", "published_by", "public_summary"],
    )
    incident = postmortem.incident
    if incident.closed_at is None and lifecycle.index(incident.stage) < lifecycle.index(
        Stage.SHARE
    ):
        incident_services.incident_move(
            incident=incident, to=Stage.SHARE, actor=actor, note="Postmortem published."
        )
    update_post(
        incident=incident,
        message=f"Postmortem published: {postmortem.title}\n{_postmortem_url(postmortem)}",
        actor=actor,
        audiences=None,
        kind=UpdateKind.POSTMORTEM,
    )
    if public_summary:
        update_post(
            incident=incident,
            message=public_summary,
            actor=actor,
            audiences=["public"],
            public_status=PublicStatus.RESOLVED,
            kind=UpdateKind.MANUAL,
        )
    return postmortem


@transaction.atomic
def retro_complete(*, postmortem: Postmortem, actor) -> Postmortem:
    """The retro was held: the incident moves to **retrospect**."""
    require_editor(actor)
    postmortem = lock(postmortem)
    if postmortem.status != Postmortem.Status.PUBLISHED:
        raise WrongStatus("Publish the postmortem before completing the retro.")
    if postmortem.retro_completed_at is not None:
        raise WrongStatus("The retro is already complete.")
    incident = postmortem.incident
    if incident.closed_at is None and incident.stage != Stage.RETROSPECT:
        incident_services.incident_move(
            incident=incident, to=Stage.RETROSPECT, actor=actor, note="Retro held."
        )
    postmortem.retro_completed_at = timezone.now()
    bump(postmortem, actor=actor, reason="retro complete", fields=["retro_completed_at"])
    return postmortem
