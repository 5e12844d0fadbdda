"""Timeline entries that are messages of the incident's Slack channel (captured by
a responder's reaction, ``notifications.slack.capture``): added with the author
and the message's own time, revised when the message is edited in Slack, struck
through when it is deleted there. Each write keeps its history row."""

from datetime import datetime

from django.db import transaction

from common.validators import printable
from incidents import services
from incidents.models import TEXT_MAX, Incident, TimelineEvent
from incidents.timeline import timeline_record

DELETED_IN_SLACK = "Deleted in Slack"


def _bounded(text: str) -> str:
    # Slack text is machine input the reader cannot fix: normalised, not refused.
    text = printable(text).strip()
    if len(text) > TEXT_MAX:
        return text[: TEXT_MAX - 1] + "…"
    return text


@transaction.atomic
def slack_message_add(
    *,
    incident: Incident,
    text: str,
    author: str,
    posted_at: datetime,
    actor,
    data: dict,
) -> TimelineEvent:
    """A ``slack_message`` timeline event at ``posted_at`` (the message's time),
    by ``actor`` (who marked it), naming the author in ``data["author"]``."""
    return timeline_record(
        incident,
        kind=TimelineEvent.Kind.SLACK_MESSAGE,
        actor=actor,
        source=TimelineEvent.Source.SLACK,
        text=_bounded(text) or "(a message without text)",
        data={**data, "author": author[:150]},
        at=posted_at,
    )


@transaction.atomic
def slack_message_revise(*, event: TimelineEvent, text: str, edited_at: datetime) -> TimelineEvent:
    """The message was edited in Slack: the entry shows the new text; the history
    keeps the earlier one."""
    event = TimelineEvent.objects.select_for_update().get(pk=event.pk)
    text = _bounded(text)
    if event.struck_at is not None or not text or text == event.text:
        return event
    event.text = text
    event.edited_at = edited_at
    event.edited_by = None
    services.save(
        event,
        actor=None,
        reason="Edited in Slack",
        update_fields=["text", "edited_at", "edited_by"],
    )
    return event


@transaction.atomic
def slack_message_withdraw(*, event: TimelineEvent, deleted_at: datetime) -> TimelineEvent:
    """The message was deleted in Slack: the entry is struck through (nothing on a
    timeline is deleted), saying so."""
    event = TimelineEvent.objects.select_for_update().get(pk=event.pk)
    if event.struck_at is not None:
        return event
    event.struck_at = deleted_at
    event.struck_by = None
    event.struck_reason = DELETED_IN_SLACK
    services.save(
        event,
        actor=None,
        reason=DELETED_IN_SLACK,
        update_fields=["struck_at", "struck_by", "struck_reason"],
    )
    return event
