"""Per-audience wording of an update. Pure: reads the rows it is given."""

from django.conf import settings
from django.utils import timezone

from notifications.models import Audience, StatusUpdate

DEFAULT_TEMPLATE = "[{severity}] {title} — {stage}\n{message}"


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def incident_url(incident_id: int) -> str:
    return f"{settings.KEEL_PUBLIC_URL}/incidents/{incident_id}/"


def context_for(update: StatusUpdate) -> dict:
    incident = update.incident
    services = ", ".join(s.name for s in incident.services.all())
    impact = []
    if incident.affected_users_count is not None:
        impact.append(f"{incident.affected_users_count} users")
    if incident.affected_users_percent is not None:
        impact.append(f"{incident.affected_users_percent}% of users")
    if incident.estimated_loss is not None:
        impact.append(f"estimated loss {incident.estimated_loss}")
    next_update = (
        timezone.localtime(update.next_update_at).strftime("%H:%M %Z")
        if update.next_update_at
        else ""
    )
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity.code,
        "stage": incident.get_stage_display(),
        "message": update.message,
        "services": services or "—",
        "features": incident.affected_features or services or "—",
        "impact": "; ".join(impact) or "being assessed",
        "url": incident_url(incident.pk),
        "next_update": next_update or "—",
        "public_status": update.get_public_status_display() if update.public_status else "",
    }


def render(update: StatusUpdate, audience: Audience) -> str:
    template = audience.message_template or DEFAULT_TEMPLATE
    text = template.format_map(_Lenient(context_for(update)))
    return text[:8000]


def subject(update: StatusUpdate) -> str:
    incident = update.incident
    stage = incident.get_stage_display()
    return f"[{incident.severity.code}] #{incident.pk} {incident.title} — {stage}"
