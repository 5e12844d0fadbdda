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
    first_delivered = dict(
        Delivery.objects.filter(update__incident=incident, status=Delivery.Status.SENT)
        .values("destination__audience")
        .annotate(first=Min("sent_at"))
        .values_list("destination__audience", "first")
    )
    return _rows(incident=incident, now=now, first_delivered=first_delivered)


def overdue_for(*, incident: Incident, now: datetime) -> list[AudienceCadence]:
    """The rows of ``cadence_for`` that are overdue, without their first deliveries
    (``first_delivered_at`` is None): what the incident page's banner warns about,
    in one query fewer; none (and no query) once the incident is closed."""
    if incident.closed_at is not None:
        return []
    return [row for row in _rows(incident=incident, now=now, first_delivered={}) if row.overdue]


def _rows(*, incident: Incident, now: datetime, first_delivered: dict) -> list[AudienceCadence]:
    from notifications.services import audiences_routed  # services imports this module

    audiences = {
        a.pk: a for a in audiences_routed(incident=incident, kind=UpdateKind.MANUAL, public=False)
    }
    # One pass over (audience, update time, promised next) rows, oldest first: each
    # audience's first and last update, without building the updates (was a scan of
    # every update for every audience).
    first_at: dict[int, datetime] = {}
    last_of: dict[int, tuple[datetime, datetime | None]] = {}
    addressed = (
        StatusUpdate.audiences.through.objects.filter(statusupdate__incident=incident)
        .exclude(statusupdate__kind=UpdateKind.REMINDER)
        .order_by("statusupdate__created_at", "statusupdate_id")
        .values_list("audience_id", "statusupdate__created_at", "statusupdate__next_update_at")
    )
    for audience_id, created_at, next_update_at in addressed:
        first_at.setdefault(audience_id, created_at)
        last_of[audience_id] = (created_at, next_update_at)
    # Audiences addressed by hand that the routing does not name today.
    if unrouted := last_of.keys() - audiences.keys():
        audiences.update(Audience.objects.in_bulk(unrouted))
    interval = timedelta(minutes=incident.severity.update_interval_minutes)
    rows = []
    for audience in sorted(audiences.values(), key=lambda a: a.pk):
        last_at, promised = last_of.get(audience.pk, (None, None))
        if last_at is None:
            due_at = incident.detected_at + interval
        else:
            due_at = promised or last_at + interval
        first = first_at.get(audience.pk)
        rows.append(
            AudienceCadence(
                audience=audience,
                last_update_at=last_at,
                due_at=due_at,
                overdue=incident.closed_at is None and now > due_at,
                first_update_at=first,
                first_delivered_at=first_delivered.get(audience.pk),
                time_to_first_update=(first - incident.detected_at) if first else None,
            )
        )
    return rows
