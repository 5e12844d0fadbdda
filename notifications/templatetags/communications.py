"""The incident page's communications banner, rendered by the notifications app so
that incidents code never imports it (STYLE.md: the dependency direction)."""

from django import template
from django.utils import timezone

from notifications import cadence, selectors

register = template.Library()


@register.inclusion_tag("notifications/partials/banner.html")
def communications_banner(incident):
    """Warn when an audience has not been reached, a channel is paused, or an
    audience is overdue for an update."""
    unreached = list(selectors.unreached(incident=incident))
    overdue = [
        row for row in cadence.cadence_for(incident=incident, now=timezone.now()) if row.overdue
    ]
    return {
        "incident": incident,
        "unreached_audiences": sorted({d.destination.audience.name for d in unreached}),
        "unreached_count": len(unreached),
        "pauses": list(selectors.channel_pauses()),
        "overdue": overdue,
    }
