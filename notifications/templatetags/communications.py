"""The incident page's communications banner, rendered by the notifications app so
that incidents code never imports it (STYLE.md: the dependency direction)."""

from django import template
from django.conf import settings
from django.utils import timezone

from common.formatting import format_duration
from notifications import cadence, selectors

register = template.Library()


@register.inclusion_tag("notifications/partials/banner.html")
def communications_banner(incident):
    """Warn when an audience has not been reached, a channel is paused, an
    audience is overdue for an update, or updates are waiting for a worker."""
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
        "waiting": _waiting(incident),
    }


def _waiting(incident) -> dict | None:
    """ "3 updates waiting 2m 10s: no worker has been seen for 2m 05s" — or None while
    deliveries leave as usual (pending for a moment is normal)."""
    waiting = selectors.waiting_for(incident=incident)
    if waiting is None or waiting.seconds < settings.KEEL_DELIVERY_WAITING_BANNER_SECONDS:
        return None
    seen = selectors.worker_last_seen()
    if seen is None:
        reason = "no worker has been seen"
    else:
        silent = timezone.now() - seen
        if silent.total_seconds() > settings.KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS:
            reason = f"no worker has been seen for {format_duration(silent)}"
        else:
            reason = "the workers are behind"
    return {
        "updates": waiting.updates,
        "deliveries": waiting.deliveries,
        "for": format_duration(timezone.now() - waiting.oldest_at),
        "reason": reason,
    }


# What fixes a delivery that will not be retried, per channel, in the responder's words.
_ADVICE = {
    "statuspage": (
        "The status page refused this update. Replay would send the same update again: "
        "post a corrected public update instead."
    ),
    "email": "Check the list's addresses in the audience's destinations, then Replay.",
    "webhook": "Check that the receiver's URL is right and it answers 2xx, then Replay.",
    "slack": "Check the Slack channel exists and the Keel bot is in it, then Replay.",
}


@register.filter
def delivery_advice(delivery) -> str:
    """For a dead or skipped delivery: why, in plain words, and what fixes it."""
    if delivery.status == "skipped":
        return "Its destination is disabled: re-enable it, then Replay."
    if delivery.status != "dead":
        return ""
    return _ADVICE.get(delivery.destination.kind, "Fix the destination, then Replay.")
