from django import template

from postmortems import selectors

register = template.Library()


@register.inclusion_tag("postmortems/partials/incident_button.html", takes_context=True)
def postmortem_button(context, incident):
    """ "Start postmortem" or "Open postmortem" for the incident page."""
    return {
        "incident": incident,
        "postmortem": selectors.postmortem_for_incident(incident_id=incident.pk),
        "user_can_drive": context.get("user_can_drive"),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
