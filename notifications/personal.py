"""Personal notices: a message to one person (e.g. "you were asked to review"),
sent by the same outbox as team updates.

A notice is a ``StatusUpdate`` of kind ``personal`` on the incident it is about,
addressed to no audience, with one ``Delivery`` to the person's own email
destination. So it is claimed, retried, broken-circuited, swept and replayed like
every delivery, and it appears in the incident's deliveries log ("who was told
what"). The destinations hang off the *People* audience, which is inactive: no
route and no responder can address it, only this module writes to it.

Slack direct messages are not sent yet: a DM destination needs the Slack adapter
to post outside the incident's announcement thread (see the README).
"""

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident
from notifications import rendering
from notifications.enqueue import enqueue_on_commit
from notifications.models import (
    MESSAGE_MAX,
    Audience,
    Delivery,
    Destination,
    StatusUpdate,
    UpdateKind,
)
from notifications.tasks import delivery_send_task

PEOPLE_AUDIENCE = "people"


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


def _email_destination(user) -> Destination:
    destination = Destination.objects.filter(user=user, kind=Destination.Kind.EMAIL).first()
    if destination is None:
        return Destination.objects.create(
            audience=_people_audience(),
            kind=Destination.Kind.EMAIL,
            user=user,
            name=f"{user.get_username()} (email)"[:100],
            target=user.email,
        )
    if destination.target != user.email:  # the address changed since the last notice
        destination.target = user.email
        destination.save(update_fields=["target", "updated_at"])
    return destination


@transaction.atomic
def personal_notice_post(*, incident: Incident, user, message: str, actor) -> StatusUpdate | None:
    """Tell ``user`` ``message`` (first line = the subject) by email through the outbox:
    writes the update and its delivery, enqueued on commit. None when the person has no
    email address (the caller says so); nothing is sent to an inactive user."""
    if not user.is_active or not user.email:
        return None
    update = StatusUpdate.objects.create(
        incident=incident,
        kind=UpdateKind.PERSONAL,
        message=message[:MESSAGE_MAX],
        created_by=actor,
        created_at=timezone.now(),
    )
    delivery = Delivery.objects.create(
        update=update,
        destination=_email_destination(user),
        next_attempt_at=update.created_at,
        rendered_text=update.message,
        rendered_subject=rendering.subject(update),
    )
    enqueue_on_commit([(delivery_send_task, (str(delivery.pk),))], what="personal notice")
    return update
