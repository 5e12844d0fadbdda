"""Per-audience wording of an update. Pure: reads the rows it is given."""

import re
import string
from datetime import UTC

from django.conf import settings

from common.validators import one_line
from notifications.message_templates import template_errors
from notifications.models import Audience, StatusUpdate, UpdateKind

DEFAULT_TEMPLATE = "[{severity}] {title} — {stage}\n{message}"
SUBJECT_MAX = 250  # Delivery.rendered_subject


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def incident_url(incident_id: int) -> str:
    return f"{settings.KEEL_PUBLIC_URL}/incidents/{incident_id}/"


def context_for(update: StatusUpdate, *, fields: set[str] | None = None) -> dict:
    """Every placeholder's value; with ``fields``, the incident's services are read
    only when one of them (``services``, ``features``) is asked for."""
    incident = update.incident
    named = fields is None or bool(fields & {"services", "features"})
    services = ", ".join(s.name for s in incident.services.all()) if named else ""
    impact = []
    if incident.affected_users_count is not None:
        impact.append(f"{incident.affected_users_count} users")
    if incident.affected_users_percent is not None:
        impact.append(f"{incident.affected_users_percent}% of users")
    if incident.estimated_loss is not None:
        impact.append(f"estimated loss {incident.estimated_loss}")
    next_update = (
        # UTC: the message goes to shared channels, whatever the author's own zone.
        update.next_update_at.astimezone(UTC).strftime("%H:%M %Z") if update.next_update_at else ""
    )
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity.code,
        "stage": incident.get_stage_display(),
        "message": update.message,
        "services": services,
        "features": incident.affected_features or services,
        "impact": "; ".join(impact) or "being assessed",
        "url": incident_url(incident.pk),
        "next_update": next_update,
        "public_status": update.get_public_status_display() if update.public_status else "",
    }


# " ({public_status})": an optional aside, dropped with its parentheses when empty.
_ASIDE = re.compile(r"\s*\(\{(\w+)\}\)")


def _fill(template: str, context: dict) -> str:
    """Format ``template`` line by line, never printing an empty placeholder: an
    empty aside in parentheses is dropped with them, and a line with any other
    empty placeholder is left out ("Next update by ." says nothing)."""
    lines = []
    for line in template.splitlines():
        line = _ASIDE.sub(lambda m: m[0] if context.get(m[1], "?") else "", line)
        fields = [field for _, field, _, _ in string.Formatter().parse(line) if field]
        if any(field in context and not str(context[field]).strip() for field in fields):
            continue
        lines.append(line.format_map(_Lenient(context)))
    return "\n".join(lines)


def render(update: StatusUpdate, audience: Audience) -> str:
    """The audience's wording; a template that cannot render falls back to the
    default rather than blocking the update (and the declare or move behind it)."""
    template = audience.message_template or DEFAULT_TEMPLATE
    if template_errors(template):
        template = DEFAULT_TEMPLATE
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return _fill(template, context_for(update, fields=fields))[:8000]


def subject(update: StatusUpdate, *, reply: bool = False) -> str:
    """``[SEV1] #42 <title>``, the same for every email of the incident (the stage is
    in the text), so that mail clients which thread by subject, as Gmail does, keep
    the incident in one conversation; ``reply`` prefixes the later ones with "Re: "."""
    incident = update.incident
    if update.kind == UpdateKind.PERSONAL:
        # A personal notice says what it is about in its first line.
        first_line = " ".join(update.message.split("\n", 1)[0].split())
        return f"#{incident.pk} {first_line}"[:SUBJECT_MAX]
    text = f"[{incident.severity.code}] #{incident.pk} {one_line(incident.title)}"
    return (f"Re: {text}" if reply else text)[:SUBJECT_MAX]
