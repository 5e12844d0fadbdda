"""What capturing an incident channel's Slack conversation needs to remember: each
Events API delivery by Slack's ``event_id`` (so a retried delivery is handled
once), and each captured message by its channel and ``ts`` (so edits and
deletions in Slack find the timeline entry it became).

Imported by ``notifications.models`` so Django registers them with the app."""

from django.db import models

from incidents.models import SHORT_TEXT_MAX, Incident, TimelineEvent


class SlackEvent(models.Model):
    """One verified Events API callback Keel acts on (a capture reaction, an edit
    or a deletion in an incident channel). Everything else is answered and dropped."""

    class Kind(models.TextChoices):
        REACTION_ADDED = "reaction_added", "Reaction added"
        MESSAGE_CHANGED = "message_changed", "Message edited"
        MESSAGE_DELETED = "message_deleted", "Message deleted"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DONE = "done", "Done"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=64, unique=True, help_text="Slack's event_id.")
    team_id = models.CharField(max_length=32)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    channel_id = models.CharField(max_length=50)
    message_ts = models.CharField(max_length=32, help_text="The message the event is about.")
    slack_user_id = models.CharField(max_length=32, blank=True, help_text="Who reacted.")
    payload = models.JSONField(help_text="The event: the edited message, the deletion time.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    outcome = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    retries_seen = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.channel_id}/{self.message_ts} ({self.status})"


class SlackCapturedMessage(models.Model):
    """A message of an incident's channel that is on the incident's timeline."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    timeline_event = models.OneToOneField(
        TimelineEvent, on_delete=models.CASCADE, related_name="slack_message"
    )
    channel_id = models.CharField(max_length=50)
    message_ts = models.CharField(max_length=32)
    author_slack_id = models.CharField(max_length=32, blank=True)
    marked_by_slack_id = models.CharField(max_length=32, blank=True)
    revised_ts = models.CharField(
        max_length=32,
        blank=True,
        help_text="The latest Slack edit applied (edits may arrive late).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel_id", "message_ts"], name="slack_message_captured_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.message_ts} → event {self.timeline_event_id}"
