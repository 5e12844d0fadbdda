"""The incident page's changes panel, as one tag: the page's view does not need to
know about changes (``{% incident_changes incident %}`` in the live region)."""

from django import template
from django.conf import settings

from incidents import changes

register = template.Library()


@register.inclusion_tag("incidents/_changes.html", takes_context=True)
def incident_changes(context, incident):
    """The changes to the incident's services in the window before its detection,
    newest first, with the mark/unmark form for those who drive incidents."""
    return {
        "incident": incident,
        "changes": changes.changes_before(incident=incident),
        "window_hours": settings.KEEL_CHANGE_WINDOW_HOURS,
        "has_services": bool(incident.services.all()),
        "user_can_drive": context.get("user_can_drive", False),
        "trigger_form": context.get("trigger_form"),
        "csrf_token": context.get("csrf_token"),
    }
