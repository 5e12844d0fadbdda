"""Template side of the live pages (``incidents.live``): the feed element that
``static/js/live.js`` reads, the version a fragment was rendered at, presence."""

from django import template
from django.conf import settings
from django.urls import reverse

from incidents import live

register = template.Library()


@register.inclusion_tag("incidents/partials/live_feed.html")
def live_feed(*, state_url: str, stream_url: str, target: str, source_url: str = "", here=None):
    """The element live.js starts from: where to poll, where to stream (only with
    Redis), which fragment to refresh, from where; ``here``: presence (or ``None``)."""
    return {
        "state_url": state_url,
        "stream_url": stream_url if live.streams_enabled() else "",
        "target": target,
        "source_url": source_url,
        "poll_seconds": settings.KEEL_LIVE_POLL_SECONDS,
        "here": here,
    }


@register.inclusion_tag("incidents/partials/live_feed.html", takes_context=True)
def live_incident_feed(context, incident):
    """The incident page's feed, with who else has it open (read, not refreshed: the
    poll or the stream refreshes it)."""
    return live_feed(
        state_url=reverse("incidents:live", args=[incident.pk]),
        stream_url=reverse("incidents:live_stream", args=[incident.pk]),
        target="#incident-live",
        source_url=reverse("incidents:detail", args=[incident.pk]),
        here=live.presence_list(incident.pk, exclude=context["request"].user),
    )


@register.simple_tag
def incident_live_version(incident) -> str:
    return live.incident_version(incident.pk) or ""


@register.simple_tag(takes_context=True)
def list_live_version(context) -> str:
    return live.list_version(context["request"].user)
