"""The weekly digest: one row per reported week (the idempotency key: a second beat
run, or a second worker, finds the week and sends nothing) and one outbox row per
destination of the digest's audience, sent by the delivery engine."""

from django.db import models
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from notifications.models import Destination, OutboxMessage

DIGEST_BODY_MAX = 20_000


class WeeklyDigest(models.Model):
    week_start = models.DateField(unique=True, help_text="The Monday of the week reported.")
    audience_slug = models.SlugField(max_length=50)
    subject = models.CharField(max_length=250)
    body = models.TextField(max_length=DIGEST_BODY_MAX)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Weekly digest, week of {self.week_start:%Y-%m-%d}"


class DigestDelivery(TimeStampedModel, OutboxMessage):
    """The digest to one destination of its audience, until sent or dead."""

    digest = models.ForeignKey(WeeklyDigest, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+")

    history = HistoricalRecords(excluded_fields=["lease_until", "updated_at"])

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(fields=["digest", "destination"], name="digest_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.digest} → {self.destination}"
