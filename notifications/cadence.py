"""Update cadence: when each audience last heard about an incident, when it is
due to hear again (the promised "next update by", else the severity's default
interval), and how long the first update took (for reports)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min

from incidents.models import Incident
from notifications.models import Audience, Delivery, StatusUpdate, UpdateKind


@dataclass(frozen=True)
class AudienceCadence:
    audience: Audience
    last_update_at: datetime | None
    due_at: datetime
    overdue: bool
    first_update_at: datetime | None
    first_delivered_at: datetime | None
    time_to_first_update: timedelta | None


def cadence_for(*, incident: Incident, now: datetime) -> list[AudienceCadence]:
    """One row per audience the routing addresses for this incident's updates."""
    from notifications.services import audiences_routed

    audiences = {
        a.pk: a for a in audiences_routed(incident=incident, kind=UpdateKind.MANUAL, public=False)
    }
    updates = list(
        StatusUpdate.objects.filter(incident=incident)
        .exclude(kind=UpdateKind.REMINDER)
        .prefetch_related("audiences")
        .order_by("created_at")
    )
    for update in updates:
        for audience in update.audiences.all():
            audiences.setdefault(audience.pk, audience)
    first_delivered = dict(
        Delivery.objects.filter(update__incident=incident, status=Delivery.Status.SENT)
        .values("destination__audience")
        .annotate(first=Min("sent_at"))
        .values_list("destination__audience", "first")
    )
    interval = timedelta(minutes=incident.severity.update_interval_minutes)
    rows = []
    for audience in sorted(audiences.values(), key=lambda a: a.pk):
        addressed = [u for u in updates if audience in u.audiences.all()]
        last = addressed[-1] if addressed else None
        if last is None:
            due_at = incident.detected_at + interval
        else:
            due_at = last.next_update_at or last.created_at + interval
        first = addressed[0].created_at if addressed else None
        rows.append(
            AudienceCadence(
                audience=audience,
                last_update_at=last.created_at if last else None,
                due_at=due_at,
                overdue=incident.closed_at is None and now > due_at,
                first_update_at=first,
                first_delivered_at=first_delivered.get(audience.pk),
                time_to_first_update=(first - incident.detected_at) if first else None,
            )
        )
    return rows
