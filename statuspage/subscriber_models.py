"""Status page subscribers and the messages sent to them (imported by ``statuspage.models``).

A subscriber hears of public incidents and maintenance by email or webhook;
``statuspage.subscriptions`` writes subscribers, ``statuspage.fanout`` writes their
notifications and ``statuspage.subscriber_outbox`` sends them through the delivery engine.
"""

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import multi_line
from notifications.models import OutboxMessage
from statuspage.models import BODY_MAX, PUBLIC_ID_LENGTH, Component, new_public_id


class Subscriber(TimeStampedModel):
    """Someone told of public incidents and maintenance by email or webhook.

    Email subscribers confirm (double opt-in) before anything but the
    confirmation is sent; every message carries a one-click unsubscribe link.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    email = models.EmailField(max_length=254, blank=True)
    endpoint = models.URLField(max_length=500, blank=True)
    secret = models.CharField(max_length=100, blank=True, help_text="Webhook signing secret.")
    components = models.ManyToManyField(
        Component, blank=True, related_name="subscribers", help_text="None chosen: all."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["secret"], m2m_fields=[components])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="email") & ~Q(email="")) | (Q(kind="webhook") & ~Q(endpoint="")),
                name="subscriber_has_an_address",
            ),
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(kind="email", unsubscribed_at__isnull=True),
                name="subscriber_email_once",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.endpoint

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class SubscriberNotification(TimeStampedModel, OutboxMessage):
    """One message to one subscriber, sent by the delivery engine like a team
    delivery (``statuspage.subscriber_outbox``), until sent or dead.

    ``event`` names what it is about (e.g. ``incident-update:<id>``); the unique
    (subscriber, event) pair makes the fan-out idempotent.
    """

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=100)
    subject = models.CharField(max_length=250)
    body = models.TextField(max_length=BODY_MAX * 2, validators=[multi_line])
    payload = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords(excluded_fields=["lease_until", "updated_at", "body", "payload"])

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event"], name="subscriber_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscriber}"
