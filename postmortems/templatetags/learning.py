"""Template tags for learning across incidents: the similar past incidents panel and the
postmortem quality checklist (each renders its own partial, so a page adds one line)."""

from django import template

from postmortems import evidence, quality, recurrence

register = template.Library()


@register.inclusion_tag("postmortems/partials/similar.html", takes_context=True)
def similar_incidents(context, incident):
    """Earlier incidents like ``incident`` that the reader may see."""
    user = context["request"].user
    return {"similar": recurrence.similar_to_incident(incident=incident, user=user)}


@register.inclusion_tag("postmortems/partials/quality.html")
def quality_checklist(postmortem):
    checks = quality.quality_check(postmortem)
    return {"checks": checks, "open": quality.open_points(checks)}


@register.filter
def tracker(url):
    """``{{ item.tracker_url|tracker }}`` → the Tracker (name, key) or None."""
    return evidence.tracker_of(url)


@register.filter
def evidence_of(item):
    return evidence.link_of(item)
