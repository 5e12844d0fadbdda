"""Writes of the Slack conversation capture: recording a verified Events API
callback once per ``event_id`` (and enqueueing its handling after commit), and
what the worker records once it has read Slack (``notifications.slack.capture``).
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from common.enqueue import publish
from incidents import captured_messages
from notifications.capture_models import SlackCapturedMessage, SlackEvent
from notifications.models import IncidentSlackChannel
from notifications.slack.events import MessageEvent
from notifications.tasks import slack_event_handle_task

logger = logging.getLogger(__name__)

# A handling task lost meanwhile (broker hiccup, killed worker) is re-enqueued by the
# beat's Slack sweep after this long; past a day the event is left as it is.
SLACK_EVENT_STALL = timedelta(minutes=2)
SLACK_EVENT_FORGET = timedelta(days=1)


def slack_time(ts: str) -> datetime:
    """A Slack ``ts`` ("1712345678.000200") as an aware datetime."""
    return datetime.fromtimestamp(float(ts), tz=UTC)


def _concerns_keel(event: MessageEvent) -> bool:
    """Only reactions in an incident's own channel and edits or deletions of
    captured messages are kept; one indexed lookup either way."""
    if event.kind == SlackEvent.Kind.REACTION_ADDED:
        return IncidentSlackChannel.objects.filter(channel_id=event.channel_id).exists()
    return SlackCapturedMessage.objects.filter(
        channel_id=event.channel_id, message_ts=event.message_ts
    ).exists()


def _enqueue(slack_event: SlackEvent) -> None:
    if not publish([(slack_event_handle_task, (slack_event.pk,))], what="Slack event"):
        # Still RECEIVED: the beat's sweep enqueues it again once the broker is back.
        logger.warning("Slack event %s not queued; the sweep retries it", slack_event.event_id)


def slack_event_receive(*, event: MessageEvent, retry_num: int = 0) -> SlackEvent | None:
    """Record ``event`` once and enqueue its handling after commit; a retried
    delivery (same ``event_id``) finds the first and enqueues nothing. Returns
    the row, or None when the event does not concern Keel (nothing is written)."""
    if not _concerns_keel(event):
        return None
    try:
        with transaction.atomic():
            slack_event = SlackEvent.objects.create(
                event_id=event.event_id,
                team_id=event.team_id,
                kind=event.kind,
                channel_id=event.channel_id,
                message_ts=event.message_ts,
                slack_user_id=event.slack_user_id,
                payload=event.as_payload(),
                retries_seen=min(retry_num, 100),
                received_at=timezone.now(),
            )
            transaction.on_commit(lambda: _enqueue(slack_event))
    except IntegrityError:
        SlackEvent.objects.filter(event_id=event.event_id).update(
            retries_seen=F("retries_seen") + 1
        )
        logger.info("Slack event %s delivered again; handled once", event.event_id)
        return SlackEvent.objects.get(event_id=event.event_id)
    return slack_event


def slack_event_finish(*, slack_event: SlackEvent, status: str, outcome: str = "") -> SlackEvent:
    """Record how handling ended (done, ignored with the reason, failed with the error)."""
    slack_event.status = status
    slack_event.outcome = outcome[:1000]
    slack_event.finished_at = timezone.now()
    slack_event.save(update_fields=["status", "outcome", "finished_at"])
    logger.info(
        "Slack event %s (%s): %s %s", slack_event.event_id, slack_event.kind, status, outcome
    )
    return slack_event


@transaction.atomic
def slack_message_capture(
    *,
    slack_event: SlackEvent,
    incident,
    message: dict,
    author: str,
    actor,
) -> SlackCapturedMessage | None:
    """Put the marked ``message`` on the incident's timeline (at its own time, by
    ``actor``, naming ``author``) and remember it for later edits; None when it is
    on the timeline already (marked twice, or by two people)."""
    locked = SlackEvent.objects.select_for_update().get(pk=slack_event.pk)
    if locked.status != SlackEvent.Status.RECEIVED:
        return None
    ts = slack_event.message_ts
    if SlackCapturedMessage.objects.filter(
        channel_id=slack_event.channel_id, message_ts=ts
    ).exists():
        slack_event_finish(
            slack_event=locked, status=SlackEvent.Status.IGNORED, outcome="Already on the timeline."
        )
        return None
    timeline_event = captured_messages.slack_message_add(
        incident=incident,
        text=str(message.get("text") or ""),
        author=author,
        posted_at=slack_time(ts),
        actor=actor,
        data={
            "channel": slack_event.channel_id,
            "ts": ts,
            "thread_ts": str(message.get("thread_ts") or ""),
            "author_slack_id": str(message.get("user") or ""),
        },
    )
    captured = SlackCapturedMessage.objects.create(
        incident=incident,
        timeline_event=timeline_event,
        channel_id=slack_event.channel_id,
        message_ts=ts,
        author_slack_id=str(message.get("user") or "")[:32],
        marked_by_slack_id=slack_event.slack_user_id,
        revised_ts=str((message.get("edited") or {}).get("ts") or "")[:32],
    )
    slack_event_finish(slack_event=locked, status=SlackEvent.Status.DONE)
    return captured


def _newer(ts: str, than: str) -> bool:
    return not than or float(ts) > float(than)


@transaction.atomic
def slack_message_change_apply(*, slack_event: SlackEvent) -> str:
    """An edit or deletion of a captured message, applied to its timeline entry.
    An edit older than the last one applied (Slack's deliveries may cross) is
    ignored. Returns the status it finished with."""
    locked = SlackEvent.objects.select_for_update().get(pk=slack_event.pk)
    if locked.status != SlackEvent.Status.RECEIVED:
        return locked.status
    captured = (
        SlackCapturedMessage.objects.select_for_update()
        .select_related("timeline_event")
        .filter(channel_id=locked.channel_id, message_ts=locked.message_ts)
        .first()
    )
    revised = str(locked.payload.get("revised_ts") or "")
    if captured is None:
        status, outcome = SlackEvent.Status.IGNORED, "Not a captured message."
    elif locked.kind == SlackEvent.Kind.MESSAGE_DELETED:
        captured_messages.slack_message_withdraw(
            event=captured.timeline_event, deleted_at=slack_time(revised)
        )
        status, outcome = SlackEvent.Status.DONE, ""
    elif not _newer(revised, captured.revised_ts):
        status, outcome = SlackEvent.Status.IGNORED, "A later edit is applied already."
    else:
        captured_messages.slack_message_revise(
            event=captured.timeline_event,
            text=str(locked.payload.get("text") or ""),
            edited_at=slack_time(revised),
        )
        captured.revised_ts = revised
        captured.save(update_fields=["revised_ts"])
        status, outcome = SlackEvent.Status.DONE, ""
    slack_event_finish(slack_event=locked, status=status, outcome=outcome)
    return status


def slack_events_stalled(*, now: datetime | None = None) -> list[int]:
    """Events received but never handled (their task was lost), for the sweep."""
    now = now or timezone.now()
    return list(
        SlackEvent.objects.filter(
            status=SlackEvent.Status.RECEIVED,
            received_at__lte=now - SLACK_EVENT_STALL,
            received_at__gte=now - SLACK_EVENT_FORGET,
        ).values_list("pk", flat=True)[:200]
    )
