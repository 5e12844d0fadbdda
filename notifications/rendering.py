"""Per-audience wording of an update. Pure: reads the rows it is given."""

import string

from django.conf import settings
from django.utils import timezone

from notifications.models import Audience, StatusUpdate, UpdateKind

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


PLACEHOLDERS = [
    "id", "title", "severity", "stage", "message", "services", "features", "impact", "url",
    "next_update", "public_status",
]  # fmt: skip


def template_errors(template: str) -> list[str]:
    """What is wrong with an audience's message template (empty list: nothing).
    Only plain ``{name}`` placeholders: no attributes, indexes, formats or conversions."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"Not a valid template: {exc}. Write literal braces as {{{{ and }}}}."]
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    errors = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            errors.append(f"Unknown placeholder {{{field}}}; use only {known}.")
    return errors


def render(update: StatusUpdate, audience: Audience) -> str:
    """The audience's wording; a template that cannot render falls back to the
    default rather than blocking the update (and the declare or move behind it)."""
    template = audience.message_template or DEFAULT_TEMPLATE
    if template_errors(template):
        template = DEFAULT_TEMPLATE
    text = template.format_map(_Lenient(context_for(update)))
    return text[:8000]


def subject(update: StatusUpdate) -> str:
    incident = update.incident
    if update.kind == UpdateKind.PERSONAL:
        # A personal notice says what it is about in its first line.
        first_line = " ".join(update.message.split("\n", 1)[0].split())
        return f"#{incident.pk} {first_line}"
    stage = incident.get_stage_display()
    return f"[{incident.severity.code}] #{incident.pk} {incident.title} — {stage}"
