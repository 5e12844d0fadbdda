"""The beat's cadence reminders: an open incident whose next update is due."""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, TimelineEvent
from notifications.cadence import cadence_for
from notifications.models import (
    CadenceReminder,
    UpdateKind,
)
from notifications.notices import update_due_notify
from notifications.services.updates import update_post


def cadence_remind(*, now: datetime | None = None) -> int:
    """Beat: remind commander and communications lead about audiences overdue for
    an update, once per missed due time: in the responders' thread, and to the
    communications lead (else the commander) as a personal notice. Returns the
    number of reminders sent.

    A private incident's reminder is a status update that goes to no audience: the
    visibility gate in ``update_post`` withholds it, so it is only on the incident's
    page and timeline (the responders' channel is shared and would show the title)."""
    now = now or timezone.now()
    sent = 0
    for incident in Incident.objects.filter(closed_at__isnull=True).select_related(
        "severity", "commander", "communications_lead"
    ):
        for row in cadence_for(incident=incident, now=now):
            # Responders are in the incident; reminders are about the stakeholders.
            if not row.overdue or row.audience.slug == "responders":
                continue
            with transaction.atomic():
                _, created = CadenceReminder.objects.get_or_create(
                    incident=incident, audience=row.audience, due_at=row.due_at
                )
                if not created:
                    continue
                people = [p for p in (incident.commander, incident.communications_lead) if p]
                names = ", ".join(sorted({p.get_full_name() or p.get_username() for p in people}))
                minutes = int((now - row.due_at).total_seconds() // 60)
                update_post(
                    incident=incident,
                    message=(
                        f"Reminder for {names or 'the commander'}: {row.audience.name} was due "
                        f"an update {minutes} min ago "
                        f"({row.due_at.astimezone(UTC):%H:%M %Z})."
                    ),
                    actor=None,
                    audiences=["responders"],
                    kind=UpdateKind.REMINDER,
                    source=TimelineEvent.Source.SYSTEM,
                )
                # And the person who owes it, directly (a private incident's too:
                # they may see it, the responders' channel is withheld).
                update_due_notify(
                    incident=incident,
                    audience_name=row.audience.name,
                    audience_slug=row.audience.slug,
                    due_at=row.due_at,
                    now=now,
                )
                sent += 1
    return sent
