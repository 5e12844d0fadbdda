"""The producers of personal notices: what each says and which object it is about.
Every one goes through ``notifications.personal.personal_notice_post`` (dedupe,
visibility, preference, daily cap, the outbox); other apps call them through
``notifications.services``.

| kind | when | about (the dedupe object; one notice a day each) |
| --- | --- | --- |
| role assigned | a role is handed to someone else (``incidents.services``) | incident, role |
| review requested | ``postmortems.review`` | postmortem, content reviewed |
| action item assigned | an item's owner becomes someone else | action item, owner |
| action item due | beat: due today, i.e. within 24 h (the date ends tonight) | action item |
| action item overdue | beat: past its due date, once a day | action item |
| update due | beat (``cadence_remind``): an audience is overdue | incident, audience, due |
"""

from datetime import UTC, date, datetime

from django.conf import settings
from django.urls import reverse

from incidents.models import Incident, RoleAssignment
from notifications.models import NoticeKind
from notifications.personal import in_notice, personal_notice_post
from notifications.rendering import incident_url


def _name(user) -> str:
    if user is None:
        return "Keel"
    return user.get_full_name() or user.get_username()


def _my_work_url() -> str:
    return settings.KEEL_PUBLIC_URL.rstrip("/") + reverse("my-work")


def role_assigned_notify(*, incident: Incident, role: str, user, actor) -> None:
    """Tell ``user`` they now hold ``role`` on ``incident`` (not when they took it)."""
    label = RoleAssignment.Role(role).label
    personal_notice_post(
        user=user,
        kind=NoticeKind.ROLE_ASSIGNED,
        incident=incident,
        about=f"incident:{incident.pk}:{role}",
        actor=actor,
        message=(
            f"You are {label.lower()} on {incident.severity.code} #{incident.pk}\n\n"
            f"{in_notice(incident, incident.title, private_as='A private incident.')}\n"
            f"{_name(actor)} made you {label.lower()}.\n"
            f"Open the incident: {incident_url(incident.pk)}\n"
            f"Everything that is yours: {_my_work_url()}"
        ),
    )


def action_item_assigned_notify(*, item, actor) -> None:
    """Tell an action item's (new) owner it is theirs."""
    incident = item.postmortem.incident
    due = f"Due {item.due_date:%Y-%m-%d}." if item.due_date else "No due date yet."
    personal_notice_post(
        user=item.owner,
        kind=NoticeKind.ACTION_ITEM_ASSIGNED,
        incident=incident,
        about=f"action_item:{item.pk}:owner:{item.owner_id}",
        actor=actor,
        message=(
            f"Action item for you: {_item(item, incident)}\n\n"
            f"{_name(actor)} made you the owner of this action item of the postmortem "
            f"{_postmortem(item.postmortem, incident)} (incident #{incident.pk}). {due}\n"
            f"Postmortem: {_postmortem_url(item.postmortem)}\n"
            f"Your open action items: {_my_work_url()}"
        ),
    )


def _item(item, incident) -> str:
    return in_notice(incident, f"“{item.title}”", private_as="(on a private incident)")


def _postmortem(postmortem, incident) -> str:
    return in_notice(incident, f"“{postmortem.title}”", private_as="(private)")


def _postmortem_url(postmortem) -> str:
    return settings.KEEL_PUBLIC_URL.rstrip("/") + reverse(
        "postmortems:detail", args=[postmortem.pk]
    )


def action_item_due_notify(*, item, today: date) -> bool:
    """Tell the owner of an open action item that it is due today (within 24 h) or
    overdue (once a day: ``today`` is the dedupe day). True when a notice was queued.
    Which items are due is the postmortems app's (``postmortems.reminders``)."""
    overdue = item.due_date < today
    incident = item.postmortem.incident
    headline = "is overdue" if overdue else "is due today"
    state = f"is overdue: it was due {item.due_date:%Y-%m-%d}" if overdue else headline
    notice = personal_notice_post(
        user=item.owner,
        kind=NoticeKind.ACTION_ITEM_OVERDUE if overdue else NoticeKind.ACTION_ITEM_DUE,
        incident=incident,
        about=f"action_item:{item.pk}",
        actor=None,
        day=today,
        message=(
            f"Your action item {headline}: {_item(item, incident)}\n\n"
            f"{_item(item, incident)} ({item.get_status_display().lower()}) {state}. "
            f"Postmortem {_postmortem(item.postmortem, incident)}, "
            f"incident #{incident.pk}.\n"
            f"Postmortem: {_postmortem_url(item.postmortem)}\n"
            f"Your open action items: {_my_work_url()}"
        ),
    )
    return bool(notice and notice.update_id)


def update_due_notify(
    *, incident: Incident, audience_name: str, audience_slug: str, due_at: datetime, now: datetime
) -> None:
    """Tell the communications lead (the commander when there is none) that an
    audience is overdue an update."""
    owner = incident.communications_lead or incident.commander
    if owner is None:
        return
    minutes = int((now - due_at).total_seconds() // 60)
    title = in_notice(incident, f"“{incident.title}”", private_as="(private)")
    personal_notice_post(
        user=owner,
        kind=NoticeKind.UPDATE_DUE,
        incident=incident,
        about=f"incident:{incident.pk}:{audience_slug}:{due_at:%Y%m%d%H%M}",
        actor=None,
        message=(
            f"Update due: {audience_name} on #{incident.pk}\n\n"
            f"{audience_name} was due an update on {incident.severity.code} #{incident.pk} "
            f"{title} {minutes} min ago ({due_at.astimezone(UTC):%H:%M} UTC).\n"
            f"Write it: {incident_url(incident.pk)}\n"
            f"Updates you owe: {_my_work_url()}"
        ),
    )
