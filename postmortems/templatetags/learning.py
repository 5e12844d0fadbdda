"""Template tags for learning across incidents: the postmortem quality checklist (its own
partial, so a page adds one line). An action item's tracker and evidence are written by
``postmortems.list_html`` with the list's rows."""

from django import template

from postmortems import quality

register = template.Library()


@register.inclusion_tag("postmortems/partials/quality.html")
def quality_checklist(postmortem):
    checks = quality.quality_check(postmortem)
    return {"checks": checks, "open": quality.open_points(checks)}
