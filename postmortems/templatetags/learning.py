"""Template tags for learning across incidents: the postmortem quality checklist (its own
partial, so a page adds one line), an item's tracker and evidence."""

from django import template

from postmortems import evidence, quality

register = template.Library()


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
