"""The CS brief: what customer support needs to answer customers right now.

Internal (login required; viewers allowed): it may name internal features, but
the wording it suggests sending is the published wording, or the CS brief's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from incidents.selectors import incidents_visible_to
from notifications.models import StatusUpdate
from statuspage.models import PublicIncident, SupportBrief

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


def brief_items(*, user, now: datetime | None = None) -> list[BriefItem]:
    now = now or timezone.now()
    incidents = (
        incidents_visible_to(user)
        .filter(closed_at__isnull=True)
        .exclude(recovered_at__lt=now - RECENTLY_RECOVERED)
        .select_related("severity", "support_brief")
        .prefetch_related(
            "services",
            # The latest public incident is the one customers see now (an incident can
            # have had several, one after another).
            Prefetch(
                "public_incidents",
                queryset=PublicIncident.objects.prefetch_related("components", "updates"),
                to_attr="public_incidents_latest_first",
            ),
            Prefetch(
                "status_updates",
                queryset=StatusUpdate.objects.filter(audiences__slug__in=["cs", "public"])
                .distinct()
                .order_by("-created_at"),
                to_attr="updates_for_cs",
            ),
        )
        .order_by("severity__rank", "-detected_at")
    )
    items = []
    for incident in incidents:
        public = next(iter(incident.public_incidents_latest_first), None)
        try:
            brief = incident.support_brief
        except SupportBrief.DoesNotExist:
            brief = None
        latest_public = None
        if public is not None:
            latest_public = max(public.updates.all(), key=lambda u: u.display_at, default=None)
        updates = incident.updates_for_cs[:1]
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
        public_components = [c.name for c in public.components.all()] if public else []
        affected = list(public_components)
        if incident.affected_features:
            affected = [incident.affected_features, *affected]
        elif not affected:
            affected = [s.name for s in incident.services.all()]
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
