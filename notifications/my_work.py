"""Reads of the "My work" page (/me/): what is one person's — incidents where they
hold a role and the updates they owe as communications lead, read here; reviews
waiting for them and their open action items, read by ``postmortems`` (which
registers those parts at start-up: ``notifications`` does not import it). A fixed
number of queries, however many rows (asserted in tests/notifications/test_my_work.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from incidents.models import Incident
from incidents.visibility import incidents_visible_to
from notifications.models import StatusUpdate, UpdateKind

ROWS_MAX = 50
# Closed incidents shown under the open ones, most recent first.
CLOSED_SHOWN = 10


@dataclass(frozen=True)
class MyIncident:
    incident: Incident
    roles: list[str]


@dataclass(frozen=True)
class UpdateOwed:
    incident: Incident
    due_at: datetime
    overdue: bool
    promised: bool  # the last update promised this time ("next update by")


def incidents_with_my_role(*, user) -> list[MyIncident]:
    """Incidents where ``user`` is commander, communications lead, scribe or
    responder now: open ones first (newest first), then the last closed ones."""
    responding = Incident.responders.through.objects.filter(incident=OuterRef("pk"), user=user)
    queryset = (
        incidents_visible_to(user)
        .annotate(i_respond=Exists(responding))
        .filter(
            Q(commander=user) | Q(communications_lead=user) | Q(scribe=user) | Q(i_respond=True)
        )
        .select_related("severity")
        .annotate(
            is_closed=Case(
                When(closed_at__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("is_closed", "-detected_at", "-pk")
    )
    rows = []
    closed = 0
    for incident in queryset[:ROWS_MAX]:
        if incident.closed_at is not None:
            closed += 1
            if closed > CLOSED_SHOWN:
                break
        roles = [
            label
            for held, label in (
                (incident.commander_id == user.pk, "Commander"),
                (incident.communications_lead_id == user.pk, "Communications lead"),
                (incident.scribe_id == user.pk, "Scribe"),
                (incident.i_respond, "Responder"),
            )
            if held
        ]
        rows.append(MyIncident(incident=incident, roles=roles))
    return rows


def updates_i_owe(*, user, now: datetime | None = None) -> list[UpdateOwed]:
    """Open incidents where ``user`` is communications lead, with when the next update
    is due: the last update's promise ("next update by"), else the severity's update
    interval after the last update (after detection when there was none yet).
    Soonest first. Reminders and personal notices are not updates."""
    now = now or timezone.now()
    last = (
        StatusUpdate.objects.filter(incident=OuterRef("pk"))
        .exclude(kind__in=[UpdateKind.REMINDER, UpdateKind.PERSONAL])
        .order_by("-created_at", "-pk")
    )
    queryset: QuerySet[Incident] = (
        incidents_visible_to(user)
        .filter(communications_lead=user, closed_at__isnull=True)
        .select_related("severity")
        .annotate(
            last_update_at=Subquery(last.values("created_at")[:1]),
            last_promise_at=Subquery(last.values("next_update_at")[:1]),
        )
    )
    rows = []
    for incident in queryset[:ROWS_MAX]:
        interval = timedelta(minutes=incident.severity.update_interval_minutes)
        promised = incident.last_promise_at is not None
        if promised:
            due_at = incident.last_promise_at
        else:
            due_at = (incident.last_update_at or incident.detected_at) + interval
        rows.append(
            UpdateOwed(incident=incident, due_at=due_at, overdue=now > due_at, promised=promised)
        )
    return sorted(rows, key=lambda row: row.due_at)


# The parts other apps own: name (the template's variable) → reader(user=...) → rows.
_parts: dict[str, Callable[..., list]] = {}


def register_part(name: str, reader: Callable[..., list]) -> None:
    _parts[name] = reader


def my_work(*, user) -> dict:
    """Everything the page shows, in one query per part (four with postmortems')."""
    return {
        "incidents": incidents_with_my_role(user=user),
        "updates_owed": updates_i_owe(user=user),
        **{name: reader(user=user) for name, reader in _parts.items()},
    }
