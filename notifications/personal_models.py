"""What personal notices need to remember: each person's choice of channel per
kind of notice, their Slack user id (looked up by email in the worker), and the
ledger of notices produced (the dedupe key and the daily cap's count).

Imported by ``notifications.models`` so Django registers them with the app."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel


class NoticeKind(models.TextChoices):
    ROLE_ASSIGNED = "role_assigned", "I am given a role on an incident"
    REVIEW_REQUESTED = "review_requested", "I am asked to review a postmortem"
    ACTION_ITEM_ASSIGNED = "action_item_assigned", "An action item is assigned to me"
    ACTION_ITEM_DUE = "action_item_due", "My action item is due within 24 hours"
    ACTION_ITEM_OVERDUE = "action_item_overdue", "My action item is overdue (once a day)"
    UPDATE_DUE = "update_due", "An update I owe as communications lead is due"


class NoticeChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK_DM = "slack_dm", "Slack direct message"
    NONE = "none", "Do not tell me"


class NotificationPreference(TimeStampedModel):
    """How one person wants to hear about one kind of notice. No row: the default
    (``notifications.preferences.DEFAULT_CHANNELS``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NoticeKind.choices)
    channel = models.CharField(max_length=16, choices=NoticeChannel.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.channel}"


class SlackUserLink(models.Model):
    """A person's Slack user id as ``users.lookupByEmail`` answered for ``email``,
    written by the worker that sends their first Slack DM (never on a request).
    A blank id says Slack knows no user with that address (looked up again after
    ``notifications.channels.slack_dm.NOT_FOUND_RECHECK``); a changed email is
    looked up again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_link"
    )
    email = models.CharField(max_length=254, help_text="The address that was looked up.")
    slack_user_id = models.CharField(max_length=32, blank=True)
    looked_up_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id} → {self.slack_user_id or 'not in Slack'}"


class PersonalNotice(models.Model):
    """One row per (person, kind, object, day) a producer wanted to tell: the dedupe
    key (a second beat run, a second worker or a repeated edit finds the row and
    tells nobody twice) and what became of it (the daily cap counts ``queued``)."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued in the outbox"
        CAPPED = "capped", "Dropped: over the daily cap"
        WITHHELD = "withheld", "Withheld: the person may not see the incident"
        OFF = "off", "Not sent: the person turned this kind off"
        UNREACHABLE = "unreachable", "Not sent: no email address"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_notices"
    )
    kind = models.CharField(max_length=32, choices=NoticeKind.choices)
    about = models.CharField(
        max_length=100, help_text="The object told about, e.g. action_item:12 or incident:3:scribe."
    )
    day = models.DateField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    channel = models.CharField(max_length=16, choices=NoticeChannel.choices, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="+", null=True
    )
    update = models.ForeignKey(
        "notifications.StatusUpdate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The personal update whose delivery carries the notice (queued only).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "about", "day"], name="personal_notice_once_a_day"
            )
        ]
        indexes = [models.Index(fields=["user", "day", "outcome"], name="personal_notice_cap_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.about} for {self.user_id} on {self.day}: {self.outcome}"

    @property
    def headline(self) -> str:
        """The first line of the message sent (its subject); "" when nothing was sent."""
        return self.update.message.split("\n", 1)[0] if self.update_id else ""
