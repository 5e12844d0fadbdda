"""Personal notices: a message to one person about what is theirs ("you are the
scribe on #12", "asked to review", "your action item is overdue", "an update you
owe is due"), sent by the same outbox as team updates.

A notice is a ``StatusUpdate`` of kind ``personal`` on the incident it is about,
addressed to no audience, with one ``Delivery`` to the person's own destination:
their email address, or their Slack DM (``notifications.channels.slack_dm``; the
Slack user id is looked up by email in the worker). So it is claimed, retried,
broken-circuited, swept and replayed like every delivery, and it appears in the
incident's deliveries log ("who was told what"). The destinations hang off the
*People* audience, which is inactive: no route and no responder can address it,
only this module writes to it.

Every producer goes through :func:`personal_notice_post`, which applies, in order:

1. **dedupe**: one notice per (person, kind, object, day) — the ``PersonalNotice``
   ledger's unique key; a second beat run or a repeated edit tells nobody twice;
2. **visibility**: never tell someone about an incident they may not see;
3. **preference**: the person's channel for this kind (``notifications.preferences``);
   *none* tells nothing;
4. **daily cap** (``KEEL_PERSONAL_NOTICES_DAILY_CAP`` per person per day): notices
   over it are *dropped*, each recorded as ``capped`` (counted on /me/notifications/)
   and logged with its kind and object.

Nobody is told about what they did themselves (the producers pass ``actor``).
A notice about a private incident names no title, item or postmortem (``in_notice``):
it says what kind of thing is waiting and links to it.
"""

import logging
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from common.enqueue import enqueue_on_commit
from incidents.models import Incident
from incidents.visibility import can_see
from notifications import rendering
from notifications.models import (
    MESSAGE_MAX,
    Audience,
    Delivery,
    Destination,
    NoticeChannel,
    PersonalNotice,
    StatusUpdate,
    UpdateKind,
)
from notifications.preferences import channel_for
from notifications.tasks import delivery_send_task

logger = logging.getLogger(__name__)

PEOPLE_AUDIENCE = "people"
Outcome = PersonalNotice.Outcome

_KIND_OF_DESTINATION = {
    NoticeChannel.EMAIL: (Destination.Kind.EMAIL, "email"),
    NoticeChannel.SLACK_DM: (Destination.Kind.SLACK, "Slack DM"),
}


def in_notice(incident: Incident, text: str, *, private_as: str) -> str:
    """``text`` (a title, an item's name) as a notice may say it: a private incident's
    words stay in Keel — the notice says ``private_as`` and links to the page (Slack
    and mail are other companies' servers; the person reads the rest after signing in)."""
    return private_as if incident.private else text


def _people_audience() -> Audience:
    audience, _ = Audience.objects.get_or_create(
        slug=PEOPLE_AUDIENCE,
        defaults={
            "name": "People (personal notices)",
            "description": "One destination per person, for notices addressed to them. "
            "Never routed; kept inactive on purpose.",
            "active": False,
        },
    )
    return audience


def personal_destination(user, channel: str) -> Destination:
    """The person's own destination for ``channel`` (email or Slack DM), created on
    first use. Both target the person's email address: the email is sent to it, the
    Slack DM looks the Slack user up by it (in the worker)."""
    kind, label = _KIND_OF_DESTINATION[channel]
    destination = Destination.objects.filter(user=user, kind=kind).first()
    if destination is None:
        destination, _ = Destination.objects.get_or_create(
            user=user,
            kind=kind,
            defaults={
                "audience": _people_audience(),
                "name": f"{user.get_username()} ({label})"[:100],
                "target": user.email,
            },
        )
    if destination.target != user.email:  # the address changed since the last notice
        destination.target = user.email
        destination._change_reason = "the person's email address changed"
        destination.save(update_fields=["target", "updated_at"])
    return destination


def daily_count(user, day: date, outcome: str = Outcome.QUEUED) -> int:
    return PersonalNotice.objects.filter(user=user, day=day, outcome=outcome).count()


def _queue(*, notice: PersonalNotice, incident: Incident, user, message: str, actor) -> None:
    update = StatusUpdate.objects.create(
        incident=incident,
        kind=UpdateKind.PERSONAL,
        message=message[:MESSAGE_MAX],
        created_by=actor,
        created_at=timezone.now(),
    )
    delivery = Delivery.objects.create(
        update=update,
        destination=personal_destination(user, notice.channel),
        next_attempt_at=update.created_at,
        rendered_text=update.message,
        rendered_subject=rendering.subject(update),
    )
    notice.update = update
    notice.save(update_fields=["update"])
    enqueue_on_commit([(delivery_send_task, (str(delivery.pk),))], what="personal notice")


def personal_notice_post(
    *,
    user,
    kind: str,
    incident: Incident,
    about: str,
    message: str,
    actor,
    day: date | None = None,
) -> PersonalNotice | None:
    """Tell ``user`` ``message`` (first line = the subject) about ``about`` (an object
    key such as ``action_item:12``) through the outbox, by the channel they chose for
    ``kind``. Writes the ledger row and, when it is sent, the personal update and its
    delivery (enqueued on commit).

    Returns the new ledger row (its ``outcome`` says what happened), or None when
    nothing new was considered: an inactive person, the person who acted, or the
    same (person, kind, object, day) seen before."""
    if user is None or not user.is_active:
        return None
    if actor is not None and getattr(actor, "pk", None) == user.pk:
        return None  # you know what you just did
    # Only now a transaction: most role changes are people taking a role themselves,
    # and those cost nothing here (not even a savepoint inside the caller's write).
    return _personal_notice_write(
        user=user, kind=kind, incident=incident, about=about, message=message, actor=actor, day=day
    )


@transaction.atomic
def _personal_notice_write(
    *, user, kind: str, incident: Incident, about: str, message: str, actor, day: date | None
) -> PersonalNotice | None:
    day = day or timezone.localdate()
    # One producer at a time per person: the cap's count and the dedupe row agree.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    notice, created = PersonalNotice.objects.get_or_create(
        user=user,
        kind=kind,
        about=about[:100],
        day=day,
        defaults={"outcome": Outcome.OFF, "incident": incident},
    )
    if not created:
        return None  # considered already today (told, or decided not to): never twice
    channel = channel_for(user, kind)
    if not can_see(user, incident):
        notice.outcome = Outcome.WITHHELD
    elif channel == NoticeChannel.NONE:
        notice.outcome = Outcome.OFF
    elif not user.email:
        # Email needs the address; so does the Slack DM (Slack is asked by email).
        notice.outcome = Outcome.UNREACHABLE
    elif daily_count(user, day) >= settings.KEEL_PERSONAL_NOTICES_DAILY_CAP:
        notice.outcome = Outcome.CAPPED
        logger.warning(
            "personal notice dropped: over the daily cap",
            extra={
                "user_id": user.pk,
                "notice_kind": kind,
                "about": about,
                "incident_id": incident.pk,
                "daily_cap": settings.KEEL_PERSONAL_NOTICES_DAILY_CAP,
            },
        )
    else:
        notice.outcome = Outcome.QUEUED
    notice.channel = channel if notice.outcome == Outcome.QUEUED else ""
    notice.save(update_fields=["outcome", "channel"])
    if notice.outcome == Outcome.QUEUED:
        _queue(notice=notice, incident=incident, user=user, message=message, actor=actor)
    return notice
