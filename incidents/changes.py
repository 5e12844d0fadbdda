"""Changes and deploys beside incidents (seed 001: the outage followed a deploy
nobody connected to it). Writes and reads in one module: recording a change (CI
posts them, ``POST /api/v1/changes/``), the changes an incident's page shows, and
marking one as the incident's trigger (``Incident.preceding_change``).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents import services
from incidents.models import Change, Incident, Service, TimelineEvent
from incidents.timeline import timeline_record
from incidents.visibility import incidents_visible_to

Kind = TimelineEvent.Kind


def change_title(*, kind: str, service: Service | None, version: str) -> str:
    """ "Deploy of checkout 2026.03.04-1": what a change is called when its sender
    gave it no title."""
    words = [Change.Kind(kind).label]
    if service is not None:
        words.append(f"of {service.slug}")
    if version:
        words.append(version)
    return " ".join(words)[: Change._meta.get_field("title").max_length]


# ---- writes ---------------------------------------------------------------------


@transaction.atomic
def change_record(
    *,
    actor,
    service: Service | None,
    kind: str = Change.Kind.DEPLOY,
    version: str = "",
    who: str = "",
    at: datetime | None = None,
    link: str = "",
    source: str = "",
    title: str = "",
) -> Change:
    """Record one change (its history row names ``actor``). Anyone who may drive
    incidents may record one; CI does it with a token of such a user."""
    services.require_driver(actor)
    change = Change(
        title=title or change_title(kind=kind, service=service, version=version),
        kind=kind,
        service=service,
        reference=version,
        url=link,
        deployed_at=at or timezone.now(),
        deployed_by=who,
        source=source,
        recorded_by=actor,
    )
    services.save(change, actor=actor, reason="Change recorded")
    return change


def _locked_visible(incident: Incident, actor) -> Incident:
    locked = incidents_visible_to(actor).select_for_update(of=("self",)).filter(pk=incident.pk)
    found = locked.first()
    if found is None:
        raise InvalidInput(f"Incident #{incident.pk} does not exist or is not visible to you.")
    return found


@transaction.atomic
def incident_trigger_change_mark(
    *, incident: Incident, change: Change, actor, source: str = TimelineEvent.Source.WEB
) -> Incident:
    """Record ``change`` as what set the incident off: ``preceding_change``, its
    history row (actor and reason) and a ``trigger_marked`` timeline event naming
    the change and the one it replaced, if any. Marking the same change again
    changes nothing."""
    services.require_driver(actor)
    incident = _locked_visible(incident, actor)
    if incident.preceding_change_id == change.pk:
        return incident
    replaced = incident.preceding_change
    incident.preceding_change = change
    services.save(
        incident,
        actor=actor,
        reason=f"Change {change.pk} marked as the trigger",
        update_fields=["preceding_change"],
    )
    data = {"change": change.pk, "title": change.title}
    if replaced is not None:
        data["replaced"] = replaced.pk
        data["replaced_title"] = replaced.title
    timeline_record(
        incident, kind=Kind.TRIGGER_MARKED, actor=actor, source=source, text=change.title, data=data
    )
    return incident


@transaction.atomic
def incident_trigger_change_unmark(
    *, incident: Incident, actor, source: str = TimelineEvent.Source.WEB
) -> Incident:
    """Clear the incident's trigger: history row and a ``trigger_unmarked`` event.
    Nothing to clear is no change."""
    services.require_driver(actor)
    incident = _locked_visible(incident, actor)
    previous = incident.preceding_change
    if previous is None:
        return incident
    incident.preceding_change = None
    services.save(
        incident,
        actor=actor,
        reason=f"Change {previous.pk} no longer the trigger",
        update_fields=["preceding_change"],
    )
    timeline_record(
        incident,
        kind=Kind.TRIGGER_UNMARKED,
        actor=actor,
        source=source,
        text=previous.title,
        data={"change": previous.pk, "title": previous.title},
    )
    return incident


# ---- reads ----------------------------------------------------------------------


def change_list(*, filters: dict | None = None) -> QuerySet[Change]:
    """Newest first; ``service`` (slug), ``kind``, ``since``/``until`` (times) as the
    API names them."""
    filters = filters or {}
    queryset = Change.objects.select_related("service", "recorded_by")
    if service := filters.get("service"):
        queryset = queryset.filter(service__slug=service)
    if kind := filters.get("kind"):
        queryset = queryset.filter(kind=kind)
    if since := filters.get("since"):
        queryset = queryset.filter(deployed_at__gte=since)
    if until := filters.get("until"):
        queryset = queryset.filter(deployed_at__lte=until)
    return queryset.order_by("-deployed_at", "-pk")


def change_window() -> timedelta:
    return timedelta(hours=settings.KEEL_CHANGE_WINDOW_HOURS)


def changes_before(*, incident: Incident, limit: int = 50) -> list[Change]:
    """The changes to the incident's services in the window before its detection
    (``KEEL_CHANGE_WINDOW_HOURS``), newest first, at most ``limit``; the marked
    trigger is among them even when it lies outside the window."""
    detected = incident.detected_at
    service_ids = [service.pk for service in incident.services.all()]
    found = list(
        Change.objects.filter(
            service_id__in=service_ids,
            deployed_at__gte=detected - change_window(),
            deployed_at__lte=detected,
        )
        .select_related("service")
        .order_by("-deployed_at", "-pk")[:limit]
    )
    trigger = incident.preceding_change
    if trigger is not None and all(change.pk != trigger.pk for change in found):
        found = sorted([*found, trigger], key=lambda c: (c.deployed_at, c.pk), reverse=True)
    return found
