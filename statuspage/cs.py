"""The CS brief: what customer support needs to answer customers right now.

Internal (login required; viewers allowed): it may name internal features, but
the wording it suggests sending is the published wording, or the CS brief's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from incidents.models import Incident
from incidents.selectors import incidents_visible_to
from notifications.models import StatusUpdate
from statuspage.models import PublicIncident, PublicIncidentUpdate, SupportBrief

RECENTLY_RECOVERED = timedelta(hours=24)


@dataclass
class BriefItem:
    incident: object
    public: object | None
    wording: str
    wording_source: str
    affected: list[str]
    public_components: list[str]
    workaround: str
    next_update_at: datetime | None
    status_url: str
    reply: str
    recovered: bool

    @property
    def resolved(self) -> bool:
        """Customers may be told "resolved" only once the public page says so."""
        return self.public is not None and self.public.is_resolved

    @property
    def state_label(self) -> str:
        if self.resolved:
            return "Resolved publicly"
        if self.recovered:
            return "Recovered, monitoring"
        return self.incident.get_stage_display()


def _reply(item: BriefItem) -> str:
    """A reply for customers: public component names only, never internal ones, and
    never "resolved" before the public incident is."""
    what = ", ".join(item.public_components) or "part of our service"
    lines = ["Hi,", "", "Thanks for getting in touch."]
    if item.resolved:
        lines.append(f"We had an issue affecting {what}; it is resolved now.")
    elif item.recovered:
        lines.append(
            f"We had an issue affecting {what}. A fix is in place and we are monitoring "
            "to make sure it holds."
        )
    else:
        lines.append(f"We are aware of an issue affecting {what} and our team is working on it.")
    if item.wording:
        lines += ["", item.wording]
    if item.workaround and not item.resolved:
        lines += ["", f"In the meantime: {item.workaround}"]
    if item.next_update_at and not item.recovered:
        lines += ["", f"Our next update is due by {item.next_update_at:%H:%M} UTC."]
    lines += ["", f"You can follow along at {item.status_url}", "", "Sorry for the trouble."]
    return "\n".join(lines)


def desk_incidents(*, user, now: datetime):
    """The incidents the desk shows ``user``: open ones, unless recovered over a day ago."""
    return (
        incidents_visible_to(user)
        .filter(closed_at__isnull=True)
        .exclude(recovered_at__lt=now - RECENTLY_RECOVERED)
    )


def brief_items(*, user, now: datetime | None = None) -> list[BriefItem]:
    now = now or timezone.now()
    incidents = list(
        desk_incidents(user=user, now=now)
        .select_related("severity", "support_brief")
        .order_by("severity__rank", "-detected_at")
    )
    shown = _shown_with(incidents)
    items = []
    for incident in incidents:
        public = shown.public.get(incident.pk)
        try:
            brief = incident.support_brief
        except SupportBrief.DoesNotExist:
            brief = None
        latest_public = shown.latest_public_update.get(public.pk) if public else None
        updates = shown.latest_cs_update.get(incident.pk, [])
        if brief and brief.customer_wording:
            wording, source = brief.customer_wording, "CS brief"
        elif latest_public is not None:
            wording, source = latest_public.body, "latest public update"
        elif updates:
            wording, source = (
                updates[0].message,
                "latest update to CS (not yet public: check before quoting)",
            )
        else:
            wording, source = "", "nothing written yet"
        public_components = shown.components.get(public.pk, []) if public else []
        affected = list(public_components)
        if incident.affected_features:
            affected = [incident.affected_features, *affected]
        elif not affected:
            affected = shown.services.get(incident.pk, [])
        promised = [
            u.next_update_at for u in updates if u.next_update_at and u.next_update_at > now
        ]
        next_update_at = (
            promised[0]
            if promised
            else (
                (updates[0].created_at if updates else incident.detected_at)
                + timedelta(minutes=incident.severity.update_interval_minutes)
            )
        )
        status_url = (
            f"{settings.KEEL_PUBLIC_URL}/status/incidents/{public.public_id}/"
            if public
            else f"{settings.KEEL_PUBLIC_URL}/status/"
        )
        item = BriefItem(
            incident=incident,
            public=public,
            wording=wording,
            wording_source=source,
            affected=affected,
            public_components=public_components,
            workaround=brief.workaround if brief else "",
            next_update_at=next_update_at,
            status_url=status_url,
            reply="",
            recovered=incident.recovered_at is not None,
        )
        item.reply = _reply(item)
        items.append(item)
    return items


@dataclass
class _Shown:
    """What the brief shows of its incidents' relations, each read once for all of them."""

    public: dict  # incident pk → its latest public incident
    latest_public_update: dict  # public incident pk → its latest update
    latest_cs_update: dict  # incident pk → [its latest update to CS or the public]
    components: dict  # public incident pk → component names, in the components' order
    services: dict  # incident pk → service names, in the services' order


def _shown_with(incidents: list) -> _Shown:
    """Five queries whatever the number of incidents, each over the brief's incidents
    only (never the history): rows read as plain values where only names are shown."""
    ids = [incident.pk for incident in incidents]
    public = {}
    # The latest public incident is the one customers see now (an incident can have
    # had several, one after another): the first in their order, latest first.
    for row in PublicIncident.objects.filter(incident_id__in=ids):
        public.setdefault(row.incident_id, row)
    public_ids = [row.pk for row in public.values()]
    latest_public_update = {}
    for row in PublicIncidentUpdate.objects.filter(public_incident_id__in=public_ids).only(
        "public_incident_id", "body", "display_at"
    ):  # latest first
        latest_public_update.setdefault(row.public_incident_id, row)
    latest_cs_update = {}
    for row in (
        StatusUpdate.objects.filter(incident_id__in=ids, audiences__slug__in=["cs", "public"])
        .distinct()
        .order_by("-created_at")
        .only("incident_id", "message", "next_update_at", "created_at")
    ):
        latest_cs_update.setdefault(row.incident_id, [row])
    return _Shown(
        public=public,
        latest_public_update=latest_public_update,
        latest_cs_update=latest_cs_update,
        components=_names_by(
            PublicIncident.components.through.objects.filter(
                publicincident_id__in=public_ids
            ).order_by("component__position", "component__name", "component_id"),
            "publicincident_id",
            "component__name",
        ),
        services=_names_by(
            Incident.services.through.objects.filter(incident_id__in=ids).order_by(
                "service__tier", "service__name", "service_id"
            ),
            "incident_id",
            "service__name",
        ),
    )


def _names_by(links, owner: str, name: str) -> dict[int, list[str]]:
    names = {}
    for owner_pk, shown in links.values_list(owner, name):
        names.setdefault(owner_pk, []).append(shown)
    return names
