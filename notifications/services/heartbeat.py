"""Workers' heartbeats, for the readiness check and the banner."""

from datetime import datetime, timedelta

from django.utils import timezone

from notifications.models import (
    WorkerHeartbeat,
)

HEARTBEAT_FORGET_AFTER = timedelta(days=1)


def worker_heartbeat_record(*, hostname: str, actor=None, at: datetime | None = None) -> None:
    """Stamp this worker host as seen now; forget hosts silent for a day (a redeploy
    renames every container). No history: a heartbeat is a reading, not a change."""
    at = at or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=(hostname or "unknown")[:255], defaults={"seen_at": at}
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=at - HEARTBEAT_FORGET_AFTER).delete()
